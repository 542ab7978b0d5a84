// `ipctrail query`: one chart's history from the SQLite file, as changes or on a regular grid. The
// call charts hold counts per tick: on a grid, each step shows the calls made during it (or their
// rate with --rate). --with-limit adds the kernel limit in force at each row's time, and the
// percentage of it used, for the charts an alert compares with a stored limit.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "agent/alerts/alert_rules.h"
#include "agent/cli/commands.h"
#include "model/chart_table.h"
#include "model/charts.h"
#include "model/sample.h"
#include "model/time_parse.h"
#include "model/time_text.h"
#include "storage/history_file_error.h"
#include "storage/history_reader.h"

namespace ipctrail {

namespace {

struct QueryOptions {
  std::string db = "/var/lib/ipctrail/history.db";
  std::string namespace_choice = kHostNamespace;
  std::string chart;
  std::optional<std::string> dimension;
  std::string since = "-1h";
  std::string until = "now";
  std::optional<std::string> step;
  bool rate = false;
  bool with_limit = false;
  std::string format = "table";
};

// --with-limit on a chart that has no limit of its own: one line, exit 2, like a bad time.
class ChartWithoutLimit : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// The kernel limit a chart's values count against: the one its alert compares them with
// (agent/alerts/alert_rules.h), stored in the history as a dimension of system.ipc_limits.
struct ChartLimit {
  std::string_view name;  // "semmni"
  // The chart's units in one unit of the limit: 1, or this host's page size for shmall, which
  // counts pages, against system.shared_memory_bytes, which counts bytes.
  std::int64_t chart_units_per_limit_unit = 1;
};

// The alert rule that compares `chart` with a limit the history stores, if any.
const AlertRule* rule_with_stored_limit(std::string_view chart) {
  std::vector<NamedLimit> stored_limits = named_limits(Limits{});
  for (const AlertRule& rule : alert_rules()) {
    if (rule.chart != chart) continue;
    if (std::any_of(stored_limits.begin(), stored_limits.end(),
                    [&](const NamedLimit& limit) { return limit.name == rule.limit_name; })) {
      return &rule;
    }
  }
  return nullptr;
}

// The charts whose every dimension counts against a stored limit: one dimension, not per queue.
bool has_limit_per_dimension(std::string_view chart) {
  const ChartSpec* spec = find_chart(chart);
  return spec != nullptr && !spec->dimension.empty() && rule_with_stored_limit(chart) != nullptr;
}

// The charts with a limit, for the error that names them.
std::string charts_with_a_limit() {
  std::string names;
  for (const ChartSpec* spec : kChartTable) {
    if (!has_limit_per_dimension(spec->id)) continue;
    names += fmt::format("{}{} ({})", names.empty() ? "" : ", ", spec->id,
                         rule_with_stored_limit(spec->id)->limit_name);
  }
  return names;
}

// The limit of `chart`, or a ChartWithoutLimit saying why it has none: no alert compares it with a
// stored limit, or its dimensions are per queue, which no stored limit bounds (msgmni counts
// queues, not a queue's messages; a queue's own msg_qbytes is not in the history).
ChartLimit chart_limit(std::string_view chart) {
  const AlertRule* rule = rule_with_stored_limit(chart);
  for (const AlertRule& other : alert_rules()) {
    if (rule == nullptr && other.chart == chart) {
      throw ChartWithoutLimit(fmt::format(
          "--with-limit: {} is compared with {} (alert {}), which the history does not keep; the "
          "charts with a limit are {}",
          chart, other.limit_name, other.name, charts_with_a_limit()));
    }
  }
  if (rule == nullptr) {
    throw ChartWithoutLimit(fmt::format("--with-limit: {} has no limit; the charts with one are {}",
                                        chart, charts_with_a_limit()));
  }
  if (!has_limit_per_dimension(chart)) {
    throw ChartWithoutLimit(
        fmt::format("--with-limit: {} has a dimension per queue, which {} does not bound (its "
                    "alert {} compares "
                    "the number of {} with it); the charts with a limit are {}",
                    chart, rule->limit_name, rule->name, rule->what, charts_with_a_limit()));
  }
  // shmall counts pages (model/sample.h); the chart, bytes.
  if (rule->limit_name == "shmall" && find_chart(chart)->units == "bytes") {
    return {rule->limit_name, static_cast<std::int64_t>(::sysconf(_SC_PAGESIZE))};
  }
  return {rule->limit_name};
}

// A limit as the query prints it: unknown, "unlimited" (the history's 9223372036854775807, or
// more than that in the chart's units), or a number in the chart's units.
struct LimitCell {
  std::optional<std::int64_t> value;
  bool unlimited = false;
};

LimitCell limit_cell(const std::optional<StoredValue>& stored, const ChartLimit& limit) {
  if (!stored || !std::holds_alternative<std::int64_t>(*stored)) return {};
  std::int64_t raw = std::get<std::int64_t>(*stored);
  std::int64_t converted = 0;
  if (raw == std::numeric_limits<std::int64_t>::max() ||
      __builtin_mul_overflow(raw, limit.chart_units_per_limit_unit, &converted)) {
    return {std::nullopt, true};
  }
  return {converted, false};
}

// One row of --with-limit: the value and the limit in force at ts, and the share of the limit the
// value uses (none when either is unknown, the limit is 0 or unlimited: the alert's UNDEFINED).
struct LimitedPoint {
  std::int64_t ts_ms = 0;
  std::optional<StoredValue> value;
  LimitCell limit;
  std::optional<double> percent;
};

struct LimitedSeries {
  SeriesInfo series;
  std::vector<LimitedPoint> points;
};

LimitedPoint limited_point(std::int64_t ts, const std::optional<StoredValue>& value,
                           const std::optional<StoredValue>& stored_limit,
                           const ChartLimit& limit) {
  LimitedPoint point{ts, value, limit_cell(stored_limit, limit), std::nullopt};
  if (value && point.limit.value && *point.limit.value > 0) {
    double used = std::visit([](auto number) { return static_cast<double>(number); }, *value);
    point.percent = used * 100.0 / static_cast<double>(*point.limit.value);
  }
  return point;
}

// The value in force at ts in `points` (sorted by time): the latest at or before it.
std::optional<StoredValue> in_force_at(const std::vector<Point>& points, std::int64_t ts) {
  auto after =
      std::upper_bound(points.begin(), points.end(), ts,
                       [](std::int64_t when, const Point& point) { return when < point.ts_ms; });
  if (after == points.begin()) return std::nullopt;
  return std::prev(after)->value;
}

// Changes: a row at every change of the value and at every change of the limit after the first
// row (the percentage changes with either), each with both values in force then.
std::vector<LimitedSeries> limited_changes(HistoryReader& reader, const std::string& chart,
                                           const std::optional<std::string>& dimension,
                                           std::int64_t since, std::int64_t until,
                                           const ChartLimit& limit) {
  std::vector<LimitedSeries> result;
  for (SeriesPoints& rows : reader.changes(chart, dimension, since, until)) {
    if (rows.points.empty()) continue;
    LimitedSeries limited{std::move(rows.series), {}};
    std::int64_t first = rows.points.front().ts_ms;
    std::vector<SeriesPoints> limit_rows =
        reader.changes(std::string(chart::kLimits.id), std::string(limit.name), first, until);
    std::vector<Point> limits =
        limit_rows.empty() ? std::vector<Point>{} : limit_rows.front().points;
    std::vector<std::int64_t> times;
    for (const Point& point : rows.points) times.push_back(point.ts_ms);
    for (const Point& point : limits) {
      if (point.ts_ms > first) times.push_back(point.ts_ms);
    }
    std::sort(times.begin(), times.end());
    times.erase(std::unique(times.begin(), times.end()), times.end());
    for (std::int64_t ts : times) {
      limited.points.push_back(
          limited_point(ts, in_force_at(rows.points, ts), in_force_at(limits, ts), limit));
    }
    result.push_back(std::move(limited));
  }
  return result;
}

// The rows of a query without --with-limit, in the same shape.
std::vector<LimitedSeries> without_limit(std::vector<SeriesPoints> all) {
  std::vector<LimitedSeries> result;
  result.reserve(all.size());
  for (SeriesPoints& rows : all) {
    LimitedSeries plain{std::move(rows.series), {}};
    plain.points.reserve(rows.points.size());
    for (const Point& point : rows.points)
      plain.points.push_back({point.ts_ms, point.value, {}, {}});
    result.push_back(std::move(plain));
  }
  return result;
}

// A grid: the limit on the same grid, empty where no sampling span covers the time.
std::vector<LimitedSeries> limited_grid(HistoryReader& reader, const std::string& chart,
                                        const std::optional<std::string>& dimension,
                                        std::int64_t since, std::int64_t until, std::int64_t step,
                                        const ChartLimit& limit) {
  std::vector<SeriesPoints> limit_rows =
      reader.grid(std::string(chart::kLimits.id), std::string(limit.name), since, until, step);
  std::vector<LimitedSeries> result;
  for (SeriesPoints& rows : reader.grid(chart, dimension, since, until, step)) {
    LimitedSeries limited{std::move(rows.series), {}};
    for (std::size_t i = 0; i < rows.points.size(); ++i) {
      std::optional<StoredValue> stored_limit;
      if (!limit_rows.empty() && i < limit_rows.front().points.size()) {
        stored_limit = limit_rows.front().points[i].value;
      }
      limited.points.push_back(
          limited_point(rows.points[i].ts_ms, rows.points[i].value, stored_limit, limit));
    }
    result.push_back(std::move(limited));
  }
  return result;
}

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

std::string limit_text(const LimitCell& limit) {
  if (limit.unlimited) return "unlimited";
  return optional_text(limit.value);
}

std::string percent_text(const std::optional<double>& percent, bool for_people) {
  if (!percent) return "";
  return for_people ? fmt::format("{:.1f}", *percent) : fmt::format("{}", *percent);
}

void print_table(const std::vector<LimitedSeries>& all, bool with_limit) {
  std::cout << fmt::format("{:<26} {:<12} {:>20} {:>12} {:>10}", "time", "dimension", "value",
                           "queue_key", "owner_uid");
  std::cout << (with_limit ? fmt::format(" {:>20} {:>8}\n", "limit", "percent") : "\n");
  for (const LimitedSeries& rows : all) {
    for (const LimitedPoint& point : rows.points) {
      std::cout << fmt::format("{:<26} {:<12} {:>20} {:>12} {:>10}", iso8601_utc(point.ts_ms),
                               rows.series.dimension, value_text(point.value),
                               optional_text(rows.series.labels.queue_key),
                               optional_text(rows.series.labels.owner_uid));
      std::cout << (with_limit ? fmt::format(" {:>20} {:>8}\n", limit_text(point.limit),
                                             percent_text(point.percent, true))
                               : "\n");
    }
  }
}

void print_csv(const std::vector<LimitedSeries>& all, bool with_limit) {
  std::cout << "ts,time,chart,dimension,value,queue_key,owner_uid"
            << (with_limit ? ",limit,percent\n" : "\n");
  for (const LimitedSeries& rows : all) {
    for (const LimitedPoint& point : rows.points) {
      std::cout << fmt::format("{},{},{},{},{},{},{}", point.ts_ms, iso8601_utc(point.ts_ms),
                               rows.series.chart, rows.series.dimension, optional_text(point.value),
                               optional_text(rows.series.labels.queue_key),
                               optional_text(rows.series.labels.owner_uid));
      std::cout << (with_limit ? fmt::format(",{},{}\n", limit_text(point.limit),
                                             percent_text(point.percent, false))
                               : "\n");
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
std::vector<LimitedSeries> step_values(std::vector<SeriesSums> all, bool rate) {
  std::vector<LimitedSeries> result;
  result.reserve(all.size());
  for (SeriesSums& sums : all) {
    LimitedSeries cells{std::move(sums.series), {}};
    cells.points.reserve(sums.steps.size());
    for (const StepSum& step : sums.steps) {
      LimitedPoint& cell =
          cells.points.emplace_back(LimitedPoint{step.ts_ms, std::nullopt, {}, {}});
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

nlohmann::json limit_json(const LimitCell& limit) {
  if (limit.unlimited) return "unlimited";
  return optional_json(limit.value);
}

void print_json(const QueryOptions& options, const std::string& chart, std::int64_t since,
                std::int64_t until, std::optional<std::int64_t> step,
                const std::optional<ChartLimit>& limit, const std::vector<LimitedSeries>& all) {
  nlohmann::json series = nlohmann::json::array();
  for (const LimitedSeries& rows : all) {
    nlohmann::json points = nlohmann::json::array();
    for (const LimitedPoint& point : rows.points) {
      if (limit) {
        points.push_back({point.ts_ms, optional_json(point.value), limit_json(point.limit),
                          point.percent ? nlohmann::json(*point.percent) : nlohmann::json()});
      } else {
        points.push_back({point.ts_ms, optional_json(point.value)});
      }
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
                        {"values", value_kind(options, chart)}};
  if (limit) out["limit_name"] = limit->name;
  out["series"] = std::move(series);
  std::cout << out.dump() << '\n';
}

int run_query(const QueryOptions& options) {
  std::int64_t now = unix_now_ms();
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
  std::optional<ChartLimit> limit;
  if (options.with_limit) limit = chart_limit(chart);
  HistoryReader reader(options.db, options.namespace_choice);
  std::vector<ChartInfo> charts = reader.charts();
  if (std::none_of(charts.begin(), charts.end(),
                   [&](const ChartInfo& known) { return known.id == chart; })) {
    std::string known;
    for (const ChartInfo& info : charts) known += (known.empty() ? "" : ", ") + info.id;
    throw HistoryFileError(fmt::format("{} has no chart '{}'; it has: {}", options.db,
                                       options.chart, known.empty() ? "none yet" : known));
  }
  std::vector<LimitedSeries> result;
  if (limit && !step) {
    result = limited_changes(reader, chart, options.dimension, since, until, *limit);
  } else if (limit) {
    result = limited_grid(reader, chart, options.dimension, since, until, *step, *limit);
  } else if (!step) {
    result = without_limit(reader.changes(chart, options.dimension, since, until));
  } else if (is_calls_per_tick(chart)) {
    result =
        step_values(reader.step_sums(chart, options.dimension, since, until, *step), options.rate);
  } else {
    result = without_limit(reader.grid(chart, options.dimension, since, until, *step));
  }
  if (options.format == "csv") {
    print_csv(result, limit.has_value());
  } else if (options.format == "json") {
    print_json(options, chart, since, until, step, limit, result);
  } else {
    print_table(result, limit.has_value());
  }
  return kExitOk;
}

}  // namespace

void add_query_command(CLI::App& app, CommandAction& run) {
  auto options = std::make_shared<QueryOptions>();
  CLI::App* command = app.add_subcommand(
      "query", "Print one chart's history: its changes, or values on a regular grid (--step)");
  command->add_option("--db", options->db, "History file")->capture_default_str();
  add_namespace_option(*command, options->namespace_choice);
  command
      ->add_option("--chart", options->chart,
                   "Chart id, e.g. system.ipc_semaphores (or Netdata's name for it)")
      ->required();
  command->add_option("--dimension", options->dimension,
                      "Only this dimension (a msqid for queues)");
  command
      ->add_option("--since", options->since,
                   "From: -1h, -15m, 19:15 (today, UTC), 2026-11-26T03:00:00Z, ...")
      ->capture_default_str();
  command->add_option("--until", options->until, "To: now, -5m, 19:45:30, 2026-11-26 04:00, ...")
      ->capture_default_str();
  command->add_option("--step", options->step,
                      "Print the value at every step (e.g. 1m) instead of the changes; for a call "
                      "chart, the calls made during each step");
  command->add_flag("--rate", options->rate,
                    "With --step on a call chart: calls per second instead of calls per step");
  command->add_flag("--with-limit", options->with_limit,
                    "Add the kernel limit in force at each row's time and the percentage of it "
                    "used (charts an alert compares with a limit: semaphores, arrays, segments, "
                    "shared memory bytes)");
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
      return run_history_command("query", [options] {
        try {
          return run_query(*options);
        } catch (const ChartWithoutLimit& error) {
          std::cerr << "ipctrail query: " << error.what() << '\n';
          return kExitUsage;
        }
      });
    };
  });
}

}  // namespace ipctrail
