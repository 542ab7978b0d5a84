// `ipctrail at TIME`: the whole stored picture at one moment, for post-incident review.
#include <fmt/format.h>

#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>

#include "agent/cli/alert_report.h"
#include "agent/cli/commands.h"
#include "model/time_parse.h"
#include "model/time_text.h"
#include "storage/history_file_error.h"
#include "storage/history_reader.h"

namespace ipctrail {

namespace {

struct AtOptions {
  std::string db = "/var/lib/ipctrail/history.db";
  std::string namespace_choice = kHostNamespace;
  std::string time;
  std::string format = "table";
};

std::string value_text(const StoredValue& value) {
  if (const double* rate = std::get_if<double>(&value)) return fmt::format("{}", *rate);
  std::int64_t number = std::get<std::int64_t>(value);
  // Stored values are clamped to INT64_MAX; the kernel's value was at least this.
  if (number == std::numeric_limits<std::int64_t>::max()) return fmt::format(">={}", number);
  return std::to_string(number);
}

std::string span_text(const Span& span) {
  return fmt::format("{} to {}, every {}ms", iso8601_utc(span.start_ms), iso8601_utc(span.last_ms),
                     span.interval_ms);
}

void print_table(const Snapshot& snapshot) {
  std::cout << "at " << iso8601_utc(snapshot.ts_ms) << ": ";
  if (snapshot.span) {
    std::cout << "sampled (span " << span_text(*snapshot.span) << ")\n";
  } else if (snapshot.previous_span) {
    std::cout << "NOT sampled: the agent was not running; values are the last known, from the "
                 "span "
              << span_text(*snapshot.previous_span) << "\n";
  } else {
    std::cout << "NOT sampled: the history starts later\n";
  }
  for (const ChartInfo& chart : snapshot.charts) {
    std::cout << '\n' << chart.id << " (" << chart.units << ")\n";
    bool any = false;
    for (const SeriesValue& entry : snapshot.values) {
      if (entry.series.chart != chart.id) continue;
      any = true;
      std::string labels;
      if (entry.series.labels.queue_key) {
        labels = fmt::format("  key {:#010x} uid {}",
                             static_cast<std::uint32_t>(*entry.series.labels.queue_key),
                             entry.series.labels.owner_uid.value_or(0));
      }
      std::cout << fmt::format("  {:<12} {:>20}  since {}{}\n", entry.series.dimension,
                               value_text(*entry.point.value), iso8601_utc(entry.point.ts_ms),
                               labels);
    }
    if (!any) std::cout << "  (no values)\n";
  }
  std::cout << "\nalerts\n";
  if (snapshot.alerts.empty()) {
    std::cout << "  (no alert transitions stored before then)\n";
  } else {
    std::cout << alert_states_table(snapshot.alerts);
  }
}

nlohmann::json span_json(const std::optional<Span>& span) {
  if (!span) return nullptr;
  return {
      {"start_ts", span->start_ms}, {"last_ts", span->last_ms}, {"interval_ms", span->interval_ms}};
}

void print_json(const Snapshot& snapshot) {
  nlohmann::json charts = nlohmann::json::object();
  for (const ChartInfo& chart : snapshot.charts) {
    charts[chart.id] = {{"units", chart.units}, {"dimensions", nlohmann::json::object()}};
  }
  for (const SeriesValue& entry : snapshot.values) {
    nlohmann::json value = {{"value", std::visit([](auto number) { return nlohmann::json(number); },
                                                 *entry.point.value)},
                            {"since", entry.point.ts_ms}};
    if (entry.series.labels.queue_key) value["queue_key"] = *entry.series.labels.queue_key;
    if (entry.series.labels.owner_uid) value["owner_uid"] = *entry.series.labels.owner_uid;
    charts[entry.series.chart]["dimensions"][entry.series.dimension] = std::move(value);
  }
  nlohmann::json alerts = nlohmann::json::array();
  for (const AlertRecord& state : snapshot.alerts) alerts.push_back(alert_state_json(state));
  nlohmann::json out = {{"ts", snapshot.ts_ms},
                        {"time", iso8601_utc(snapshot.ts_ms)},
                        {"sampled", snapshot.span.has_value()},
                        {"span", span_json(snapshot.span)},
                        {"previous_span", span_json(snapshot.previous_span)},
                        {"charts", std::move(charts)},
                        {"alerts", std::move(alerts)}};
  std::cout << out.dump() << '\n';
}

int run_at(const AtOptions& options) {
  std::int64_t now = unix_now_ms();
  std::int64_t when = parse_time(options.time, now);
  HistoryReader reader(options.db, options.namespace_choice);
  Snapshot snapshot = reader.snapshot_at(when);
  if (options.format == "json") {
    print_json(snapshot);
  } else {
    print_table(snapshot);
  }
  return kExitOk;
}

}  // namespace

void add_at_command(CLI::App& app, CommandAction& run) {
  auto options = std::make_shared<AtOptions>();
  CLI::App* command = app.add_subcommand(
      "at",
      "Print every chart's values, the limits and the alert states at one moment of the history");
  command->add_option("time", options->time, "When: -1h, 2026-11-26T03:00:00Z, 2026-11-26 03:00")
      ->required();
  command->add_option("--db", options->db, "History file")->capture_default_str();
  add_namespace_option(*command, options->namespace_choice);
  command->add_option("--format", options->format, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  command->callback([&run, options] {
    run = [options] { return run_history_command("at", [options] { return run_at(*options); }); };
  });
}

}  // namespace ipctrail
