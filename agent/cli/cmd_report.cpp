// `ipctrail report`: the post-incident review of a window of the history file, as text, JSON or
// one self-contained HTML file, on stdout or into -o FILE (report/, docs/design.md §8).
#include <iostream>

#include "agent/cli/commands.h"
#include "model/time_parse.h"
#include "report/render.h"
#include "report/report.h"
#include "report/report_file.h"
#include "storage/history_reader.h"

namespace ipctrail {

namespace {

struct ReportOptions {
  std::string db = "/var/lib/ipctrail/history.db";
  std::string since;
  std::string until = "now";
  std::string format = "text";
  std::optional<std::string> output;
  std::string namespace_choice = kHostNamespace;
};

int run_report(const ReportOptions& options) {
  std::int64_t now = unix_now_ms();
  std::int64_t since = parse_time(options.since, now);
  std::int64_t until = parse_time(options.until, now);
  HistoryReader reader(options.db, options.namespace_choice);
  Report report = analyse_history(reader, options.db, since, until);
  report.ipc_namespace = options.namespace_choice;
  std::string text = options.format == "json"   ? render_json(report)
                     : options.format == "html" ? render_html(report)
                                                : render_text(report);
  if (options.output) {
    write_report_file(*options.output, text);
  } else {
    std::cout << text;
  }
  return kExitOk;
}

}  // namespace

void add_report_command(CLI::App& app, CommandAction& run) {
  auto options = std::make_shared<ReportOptions>();
  CLI::App* command = app.add_subcommand(
      "report",
      "The post-incident review of a time window: usage against limits, alerts and "
      "their lead time, failures, objects, and whether it is still happening");
  command->add_option("--db", options->db, "History file")->capture_default_str();
  command->add_option("--since", options->since, "From: -1h, 2026-11-26T03:00:00Z, ...")
      ->required();
  command->add_option("--until", options->until, "To")->capture_default_str();
  command->add_option("--format", options->format, "text, json or html")
      ->check(CLI::IsMember({"text", "json", "html"}))
      ->capture_default_str();
  command->add_option("-o,--output", options->output,
                      "Write here (whole or not at all) instead of stdout; never through a link");
  add_namespace_option(*command, options->namespace_choice);
  command->callback([&run, options] {
    run = [options] {
      return run_history_command("report", [options] {
        try {
          return run_report(*options);
        } catch (const ReportError& error) {
          std::cerr << "ipctrail report: " << error.what() << '\n';
          return kExitUsage;
        }
      });
    };
  });
}

}  // namespace ipctrail
