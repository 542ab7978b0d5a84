// `ipctrail who`: the processes behind the IPC calls and failures of a time range, largest first,
// from the per-process counts BPF recorded in the history file.
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "agent/cli/commands.h"
#include "agent/cli/csv_field.h"
#include "model/ipc_call_counts.h"
#include "model/time_parse.h"
#include "model/time_text.h"
#include "report/process_text.h"
#include "storage/history_reader.h"

namespace ipctrail {

namespace {

struct WhoOptions {
  std::string db = "/var/lib/ipctrail/history.db";
  std::string since = "-1h";
  std::string until = "now";
  std::optional<std::string> call;
  bool errors = false;
  std::string format = "table";
};

// "19:15:47–19:17:44", with the date where the two differ from each other.
std::string seen_text(std::int64_t first_ms, std::int64_t last_ms) {
  std::string first = iso8601_utc(first_ms);
  std::string last = iso8601_utc(last_ms);
  auto clock = [](const std::string& iso) { return iso.substr(11, 8); };
  if (first.substr(0, 10) != last.substr(0, 10)) {
    return fmt::format("{} {}–{} {}", first.substr(0, 10), clock(first), last.substr(0, 10),
                       clock(last));
  }
  return fmt::format("{}–{}", clock(first), clock(last));
}

// Why a window has no per-process counts, in one line; empty when it has some.
std::string missing_counts(const ProcessCoverage& coverage) {
  if (coverage.sampling.empty()) {
    return "the agent was not sampling in this window (see `sqlite3 FILE 'SELECT * FROM spans'`)";
  }
  if (coverage.counted.empty()) {
    return "no BPF counts recorded in this window: BPF was off or unavailable while the agent "
           "sampled (its log says why; `ipctrail query --chart system.ipc_semaphore_calls` shows "
           "whether the call charts have data)";
  }
  return {};
}

// What makes the window's counts incomplete, in one line; empty when nothing does.
std::string incomplete(const ProcessCoverage& coverage) {
  std::vector<std::string> parts;
  if (coverage.calls_not_attributed > 0) {
    parts.push_back(
        fmt::format("{} calls not attributed to a process (the per-process map was "
                    "full)",
                    coverage.calls_not_attributed));
  }
  if (coverage.events_lost > 0) {
    parts.push_back(fmt::format("{} creations or removals lost (the ring buffer was full)",
                                coverage.events_lost));
  }
  if (parts.empty()) return {};
  return "incomplete: " + fmt::format("{}", fmt::join(parts, "; "));
}

void print_table(const std::vector<ProcessCallTotal>& totals, const WhoOptions& options,
                 std::int64_t since, std::int64_t until, const ProcessCoverage& coverage) {
  std::string what = options.errors ? "failed IPC calls" : "IPC calls";
  if (options.call) what = fmt::format("{} {}", options.errors ? "failed" : "", *options.call);
  if (what.starts_with(' ')) what.erase(0, 1);
  std::cout << fmt::format("Processes behind the {} from {} to {}, largest first:\n", what,
                           iso8601_utc(since), iso8601_utc(until));
  if (totals.empty()) std::cout << "none: no process made such a call in this window\n";
  for (const ProcessCallTotal& total : totals) {
    std::cout << fmt::format(
        "{} {} {} ×{}, {} (pid{} {})\n", process_name_text(total.comm, total.unit), total.call,
        total.error.value_or("ok"), total.count, seen_text(total.first_ms, total.last_ms),
        total.pids.size() > 1 ? "s" : "", pids_text(total.pids));
  }
  if (std::string note = incomplete(coverage); !note.empty()) std::cout << note << '\n';
}

void print_csv(const std::vector<ProcessCallTotal>& totals) {
  std::cout << "process,pids,unit,call,errno,count,first_ts,first_time,last_ts,last_time\n";
  for (const ProcessCallTotal& total : totals) {
    std::cout << fmt::format(
        "{},{},{},{},{},{},{},{},{},{}\n", csv_field(total.comm),
        csv_field(fmt::format("{}", fmt::join(total.pids, " "))),
        csv_field(total.unit.value_or("")), total.call, total.error.value_or(""), total.count,
        total.first_ms, iso8601_utc(total.first_ms), total.last_ms, iso8601_utc(total.last_ms));
  }
}

void print_json(const std::vector<ProcessCallTotal>& totals, std::int64_t since, std::int64_t until,
                const ProcessCoverage& coverage, const std::string& missing) {
  nlohmann::json rows = nlohmann::json::array();
  for (const ProcessCallTotal& total : totals) {
    rows.push_back({{"process", total.comm},
                    {"pids", total.pids},
                    {"unit", total.unit ? nlohmann::json(*total.unit) : nlohmann::json()},
                    {"call", total.call},
                    {"errno", total.error ? nlohmann::json(*total.error) : nlohmann::json()},
                    {"count", total.count},
                    {"first_ts", total.first_ms},
                    {"first_time", iso8601_utc(total.first_ms)},
                    {"last_ts", total.last_ms},
                    {"last_time", iso8601_utc(total.last_ms)}});
  }
  nlohmann::json out = {{"since", since},
                        {"until", until},
                        {"counted", missing.empty()},
                        {"calls_not_attributed", coverage.calls_not_attributed},
                        {"events_lost", coverage.events_lost},
                        {"processes", std::move(rows)}};
  if (!missing.empty()) out["why_empty"] = missing;
  std::cout << out.dump() << '\n';
}

int run_who(const WhoOptions& options) {
  std::int64_t now = unix_now_ms();
  std::int64_t since = parse_time(options.since, now);
  std::int64_t until = parse_time(options.until, now);
  if (until < since) throw TimeTextError("--until is before --since");
  HistoryReader reader(options.db);
  ProcessCoverage coverage = reader.process_coverage(since, until);
  std::vector<ProcessCallTotal> totals =
      reader.process_call_totals(since, until, options.call, options.errors);
  std::string missing = totals.empty() ? missing_counts(coverage) : std::string();
  if (options.format == "json") {
    print_json(totals, since, until, coverage, missing);
  } else if (!missing.empty()) {
    // One line, where a person or a script reading a table or CSV sees it.
    (options.format == "csv" ? std::cerr : std::cout) << "ipctrail who: " << missing << '\n';
    if (options.format == "csv") print_csv(totals);
  } else if (options.format == "csv") {
    print_csv(totals);
  } else {
    print_table(totals, options, since, until, coverage);
  }
  return kExitOk;
}

}  // namespace

void add_who_command(CLI::App& app, CommandAction& run) {
  auto options = std::make_shared<WhoOptions>();
  CLI::App* command = app.add_subcommand(
      "who", "Print the processes behind the IPC calls and failures of a time range (BPF)");
  command->add_option("--db", options->db, "History file")->capture_default_str();
  command->add_option("--since", options->since, "From: -1h, 2026-11-26T03:00:00Z, ...")
      ->capture_default_str();
  command->add_option("--until", options->until, "To")->capture_default_str();
  std::vector<std::string> calls(kIpcCallNames.begin(), kIpcCallNames.end());
  command->add_option("--call", options->call, "Only this call (semget, msgsnd, ...)")
      ->check(CLI::IsMember(calls));
  command->add_flag("--errors", options->errors, "Only the calls that failed");
  command->add_option("--format", options->format, "table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  command->callback([&run, options] {
    run = [options] { return run_history_command("who", [options] { return run_who(*options); }); };
  });
}

}  // namespace ipctrail
