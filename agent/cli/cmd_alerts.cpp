// `ipctrail alerts`: the stored alert transitions, or the alerts raised now.
#include <fmt/format.h>

#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>

#include "agent/cli/alert_report.h"
#include "agent/cli/commands.h"
#include "agent/cli/csv_field.h"
#include "model/time_parse.h"
#include "model/time_text.h"
#include "storage/history_file_error.h"
#include "storage/history_reader.h"

namespace ipctrail {

namespace {

struct AlertsOptions {
  std::string db = "/var/lib/ipctrail/history.db";
  std::string namespace_choice = kHostNamespace;
  std::string since = "-24h";
  bool active = false;
  std::string format = "table";
};

// Raised: the instance's latest transition went to WARNING or CRITICAL (or Netdata's RAISED).
bool raised(const AlertRecord& state) {
  return state.new_status >= AlertStatus::kRaised;
}

std::string optional_text(const std::optional<double>& value) {
  return value ? fmt::format("{}", *value) : "";
}

void print_transitions_table(const std::vector<AlertRecord>& transitions) {
  std::cout << fmt::format("{:<24}  {:<30} {:<10} {:<29} {:>7}  {}\n", "time", "alert", "instance",
                           "status", "value", "summary");
  for (const AlertRecord& row : transitions) {
    std::cout << fmt::format(
        "{:<24}  {:<30} {:<10} {:<29} {:>7}  {}\n", iso8601_utc(row.ts_ms), row.alert,
        row.instance.empty() ? "-" : row.instance,
        fmt::format("{} -> {}", status_name(row.old_status), status_name(row.new_status)),
        alert_value_text(row.new_value), row.summary);
  }
}

void print_transitions_csv(const std::vector<AlertRecord>& transitions) {
  std::cout << "ts,time,alert,chart,instance,old_status,new_status,old_value,new_value,warn,crit,"
               "summary\n";
  for (const AlertRecord& row : transitions) {
    std::cout << fmt::format(
        "{},{},{},{},{},{},{},{},{},{},{},{}\n", row.ts_ms, iso8601_utc(row.ts_ms), row.alert,
        row.chart, csv_field(row.instance), status_name(row.old_status),
        status_name(row.new_status), optional_text(row.old_value), optional_text(row.new_value),
        optional_text(row.warn), optional_text(row.crit), csv_field(row.summary));
  }
}

nlohmann::json optional_json(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json();
}

void print_transitions_json(std::int64_t since, const std::vector<AlertRecord>& transitions) {
  nlohmann::json rows = nlohmann::json::array();
  for (const AlertRecord& row : transitions) {
    rows.push_back({{"ts", row.ts_ms},
                    {"time", iso8601_utc(row.ts_ms)},
                    {"alert", row.alert},
                    {"chart", row.chart},
                    {"instance", row.instance},
                    {"old_status", status_name(row.old_status)},
                    {"new_status", status_name(row.new_status)},
                    {"old_status_code", static_cast<int>(row.old_status)},
                    {"new_status_code", static_cast<int>(row.new_status)},
                    {"old_value", optional_json(row.old_value)},
                    {"new_value", optional_json(row.new_value)},
                    {"warn", optional_json(row.warn)},
                    {"crit", optional_json(row.crit)},
                    {"summary", row.summary}});
  }
  std::cout << nlohmann::json{{"since", since}, {"transitions", std::move(rows)}}.dump() << '\n';
}

void print_states_csv(const std::vector<AlertRecord>& states,
                      const std::vector<std::optional<CurrentValue>>& now) {
  std::cout << "alert,chart,instance,status,value,since,since_time,summary,now_value,now_limit,"
               "now_percent,now_unit,now_ts\n";
  for (std::size_t i = 0; i < states.size(); ++i) {
    const AlertRecord& state = states[i];
    const std::optional<CurrentValue>& current = now[i];
    std::cout << fmt::format(
        "{},{},{},{},{},{},{},{},{},{},{},{},{}\n", state.alert, state.chart,
        csv_field(state.instance), status_name(state.new_status), optional_text(state.new_value),
        state.ts_ms, iso8601_utc(state.ts_ms), csv_field(state.summary),
        current ? fmt::format("{}", current->value) : "",
        current ? optional_text(current->limit) : "",
        current ? optional_text(current->percent()) : "", current ? csv_field(current->unit) : "",
        current ? std::to_string(current->ts_ms) : "");
  }
}

void print_states_json(const std::vector<AlertRecord>& states,
                       const std::vector<std::optional<CurrentValue>>& now) {
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t i = 0; i < states.size(); ++i) {
    nlohmann::json row = alert_state_json(states[i]);
    row["now"] = current_value_json(now[i]);
    rows.push_back(std::move(row));
  }
  std::cout << nlohmann::json{{"active", std::move(rows)}}.dump() << '\n';
}

int run_alerts(const AlertsOptions& options) {
  std::int64_t now = unix_now_ms();
  std::int64_t since = parse_time(options.since, now);
  HistoryReader reader(options.db, options.namespace_choice);
  if (options.active) {
    std::vector<AlertRecord> states =
        reader.alert_states_at(std::numeric_limits<std::int64_t>::max());
    std::erase_if(states, [](const AlertRecord& state) { return !raised(state); });
    std::vector<std::optional<CurrentValue>> current = current_values(reader, states, now);
    if (options.format == "csv") {
      print_states_csv(states, current);
    } else if (options.format == "json") {
      print_states_json(states, current);
    } else {
      std::cout << alert_states_table(states, &current);
    }
    return kExitOk;
  }
  std::vector<AlertRecord> transitions =
      reader.alert_transitions(since, std::numeric_limits<std::int64_t>::max());
  if (options.format == "csv") {
    print_transitions_csv(transitions);
  } else if (options.format == "json") {
    print_transitions_json(since, transitions);
  } else {
    print_transitions_table(transitions);
  }
  return kExitOk;
}

}  // namespace

void add_alerts_command(CLI::App& app, CommandAction& run) {
  auto options = std::make_shared<AlertsOptions>();
  CLI::App* command = app.add_subcommand(
      "alerts", "Print the stored alert transitions, or (--active) the alerts raised now");
  command->add_option("--db", options->db, "History file")->capture_default_str();
  add_namespace_option(*command, options->namespace_choice);
  CLI::Option* since =
      command->add_option("--since", options->since, "From: -24h, -15m, 2026-11-26T03:00:00Z, ...")
          ->capture_default_str();
  command
      ->add_flag("--active", options->active,
                 "Instead, each alert instance whose latest transition is to WARNING or CRITICAL, "
                 "with what its resource holds now")
      ->excludes(since);
  command->add_option("--format", options->format, "table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  command->callback([&run, options] {
    run = [options] {
      return run_history_command("alerts", [options] { return run_alerts(*options); });
    };
  });
}

}  // namespace ipctrail
