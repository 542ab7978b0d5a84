// `ipctrail query`: one chart's history from the SQLite file, as changes or on a regular grid. The
// call charts hold counts per tick: on a grid, each step shows the calls made during it (or their
// rate with --rate).
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "agent/cli/commands.h"
#include "model/chart_table.h"
#include "model/charts.h"
#include "model/time_parse.h"
#include "model/time_text.h"
#include "storage/history_file_error.h"
#include "storage/history_reader.h"

namespace ipctrail {

namespace {

struct QueryOptions {
  std::string db = "/var/lib/ipctrail/history.db";
  std::string chart;
  std::optional<std::string> dimension;
  std::string since = "-1h";
  std::string until = "now";
  std::optional<std::string> step;
  bool rate = false;
  std::string format = "table";
};

constexpr std::int64_t kMaxGridPoints = 100'000;

std::string stored_text(const StoredValue& value) {
  return std::visit([](auto number) { return fmt::format("{}", number); }, value);
}

std::string value_text(const std::optional<StoredValue>& value) {
  return value ? stored_text(*value) : "-";
}

std::string optional_text(const std::optional<StoredValue>& value) {
  return value ? stored_text(*value) : "";
}

std::string optional_text(const std::optional<std::int64_t>& value) {
  return value ? std::to_string(*value) : "";
}

void print_table(const std::vector<SeriesPoints>& all) {
  std::cout << fmt::format("{:<26} {:<12} {:>20} {:>12} {:>10}\n", "time", "dimension", "value",
                           "queue_key", "owner_uid");
  for (const SeriesPoints& rows : all) {
    for (const Point& point : rows.points) {
      std::cout << fmt::format("{:<26} {:<12} {:>20} {:>12} {:>10}\n", iso8601_utc(point.ts_ms),
                               rows.series.dimension, value_text(point.value),
                               optional_text(rows.series.labels.queue_key),
                               optional_text(rows.series.labels.owner_uid));
    }
  }
}

void print_csv(const std::vector<SeriesPoints>& all) {
  std::cout << "ts,time,chart,dimension,value,queue_key,owner_uid\n";
  for (const SeriesPoints& rows : all) {
    for (const Point& point : rows.points) {
      std::cout << fmt::format("{},{},{},{},{},{},{}\n", point.ts_ms, iso8601_utc(point.ts_ms),
                               rows.series.chart, rows.series.dimension, optional_text(point.value),
                               optional_text(rows.series.labels.queue_key),
                               optional_text(rows.series.labels.owner_uid));
    }
  }
}

nlohmann::json optional_json(const std::optional<std::int64_t>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json();
}

nlohmann::json optional_json(const std::optional<StoredValue>& value) {
  if (!value) return nullptr;
  return std::visit([](auto number) { return nlohmann::json(number); }, *value);
}

// Each step of a chart of counts per tick: the calls made during it, or their rate per second
// over the time that was sampled.
std::vector<SeriesPoints> step_values(std::vector<SeriesSums> all, bool rate) {
  std::vector<SeriesPoints> result;
  result.reserve(all.size());
  for (SeriesSums& sums : all) {
    SeriesPoints cells{std::move(sums.series), {}};
    cells.points.reserve(sums.steps.size());
    for (const StepSum& step : sums.steps) {
      Point& cell = cells.points.emplace_back(Point{step.ts_ms, std::nullopt});
      if (!step.sum) continue;
      if (rate) {
        cell.value = static_cast<double>(*step.sum) * 1000.0 / static_cast<double>(step.sampled_ms);
      } else {
        cell.value = *step.sum;
      }
    }
    result.push_back(std::move(cells));
  }
  return result;
}

// What each value is: a chart's value, the sum of its counts over the step, or their rate.
std::string_view value_kind(const QueryOptions& options, std::string_view chart) {
  if (!options.step || !is_calls_per_tick(chart)) return "value";
  return options.rate ? "rate_per_second" : "sum";
}

void print_json(const QueryOptions& options, const std::string& chart, std::int64_t since,
                std::int64_t until, std::optional<std::int64_t> step,
                const std::vector<SeriesPoints>& all) {
  nlohmann::json series = nlohmann::json::array();
  for (const SeriesPoints& rows : all) {
    nlohmann::json points = nlohmann::json::array();
    for (const Point& point : rows.points) {
      points.push_back({point.ts_ms, optional_json(point.value)});
    }
    series.push_back({{"dimension", rows.series.dimension},
                      {"queue_key", optional_json(rows.series.labels.queue_key)},
                      {"owner_uid", optional_json(rows.series.labels.owner_uid)},
                      {"points", std::move(points)}});
  }
  nlohmann::json out = {{"chart", chart},
                        {"since", since},
                        {"until", until},
                        {"step_ms", optional_json(step)},
                        {"values", value_kind(options, chart)},
                        {"series", std::move(series)}};
  std::cout << out.dump() << '\n';
}

int run_query(const QueryOptions& options) {
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  std::int64_t since = parse_time(options.since, now);
  std::int64_t until = parse_time(options.until, now);
  if (since > until) {
    throw TimeTextError(
        fmt::format("--since {} is after --until {}", options.since, options.until));
  }
  std::optional<std::int64_t> step;
  if (options.step) {
    step = parse_positive_duration(*options.step).count();
    // Bounds the grid's ts += step: it stays below twice kLatestTimeMs.
    if (*step > kLatestTimeMs - kEarliestTimeMs) {
      throw TimeTextError(fmt::format("--step {} is longer than the whole range of times ({})",
                                      *options.step, kTimeRangeText));
    }
    if ((until - since) / *step >= kMaxGridPoints) {
      throw TimeTextError(fmt::format("--step {} gives more than {} points from --since to --until",
                                      *options.step, kMaxGridPoints));
    }
  }
  // Netdata's name for a chart (system.message_queue_messages) is an alias of ours.
  std::string chart(canonical_chart_id(options.chart));
  HistoryReader reader(options.db);
  std::vector<ChartInfo> charts = reader.charts();
  if (std::none_of(charts.begin(), charts.end(),
                   [&](const ChartInfo& known) { return known.id == chart; })) {
    std::string known;
    for (const ChartInfo& info : charts) known += (known.empty() ? "" : ", ") + info.id;
    throw HistoryFileError(fmt::format("{} has no chart '{}'; it has: {}", options.db,
                                       options.chart, known.empty() ? "none yet" : known));
  }
  std::vector<SeriesPoints> result;
  if (!step) {
    result = reader.changes(chart, options.dimension, since, until);
  } else if (is_calls_per_tick(chart)) {
    result =
        step_values(reader.step_sums(chart, options.dimension, since, until, *step), options.rate);
  } else {
    result = reader.grid(chart, options.dimension, since, until, *step);
  }
  if (options.format == "csv") {
    print_csv(result);
  } else if (options.format == "json") {
    print_json(options, chart, since, until, step, result);
  } else {
    print_table(result);
  }
  return kExitOk;
}

}  // namespace

void add_query_command(CLI::App& app, CommandAction& run) {
  auto options = std::make_shared<QueryOptions>();
  CLI::App* command = app.add_subcommand(
      "query", "Print one chart's history: its changes, or values on a regular grid (--step)");
  command->add_option("--db", options->db, "History file")->capture_default_str();
  command
      ->add_option("--chart", options->chart,
                   "Chart id, e.g. system.ipc_semaphores (or Netdata's name for it)")
      ->required();
  command->add_option("--dimension", options->dimension,
                      "Only this dimension (a msqid for queues)");
  command->add_option("--since", options->since, "From: -1h, -15m, 2026-11-26T03:00:00Z, ...")
      ->capture_default_str();
  command->add_option("--until", options->until, "To: now, -5m, 2026-11-26 04:00, ...")
      ->capture_default_str();
  command->add_option("--step", options->step,
                      "Print the value at every step (e.g. 1m) instead of the changes; for a call "
                      "chart, the calls made during each step");
  command->add_flag("--rate", options->rate,
                    "With --step on a call chart: calls per second instead of calls per step");
  command->add_option("--format", options->format, "table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  command->callback([&run, options] {
    if (options->rate &&
        !(options->step && is_calls_per_tick(canonical_chart_id(options->chart)))) {
      throw CLI::ValidationError("--rate",
                                 "needs --step and a call chart (system.ipc_semaphore_calls, "
                                 "system.message_queue_calls, system.shared_memory_calls, "
                                 "system.ipc_call_errors)");
    }
    run = [options] {
      return run_history_command("query", [options] { return run_query(*options); });
    };
  });
}

}  // namespace ipctrail
