#include "agent/cli/cli.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/cli/commands.h"
#include "model/time_parse.h"
#include "storage/history_file_error.h"

namespace ipctrail {

namespace {

// "agent, alerts, ...": every subcommand's name, for the errors that need one.
std::string command_names(CLI::App& app) {
  std::string names;
  for (const CLI::App* command : app.get_subcommands([](CLI::App*) { return true; })) {
    if (!names.empty()) names += ", ";
    names += command->get_name();
  }
  return names;
}

// CLI11 reports a word that is no subcommand as "A subcommand is required": name the word and the
// commands instead. Returns false for every other parse error, which CLI11 words well.
bool explain_missing_command(CLI::App& app) {
  if (!app.get_subcommands().empty()) return false;
  std::vector<std::string> words = app.remaining();
  if (words.empty()) {
    std::cerr << "error: a command is required; commands: " << command_names(app) << '\n';
  } else if (words.front().starts_with('-')) {
    return false;
  } else {
    std::cerr << "error: unknown command '" << words.front()
              << "'; commands: " << command_names(app) << '\n';
  }
  std::cerr << "Run with --help for more information.\n";
  return true;
}

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("ipctrail");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

}  // namespace

int run_history_command(std::string_view command, const CommandAction& body) {
  try {
    return body();
  } catch (const TimeTextError& error) {
    std::cerr << "ipctrail " << command << ": " << error.what() << '\n';
  } catch (const HistoryFileError& error) {
    std::cerr << "ipctrail " << command << ": " << error.what() << '\n';
  } catch (const std::invalid_argument& error) {  // a --namespace the history does not have
    std::cerr << "ipctrail " << command << ": " << error.what() << '\n';
  }
  return kExitUsage;
}

void add_namespace_option(CLI::App& command, std::string& choice) {
  command
      .add_option("--namespace", choice,
                  "Which IPC namespace's history: host (the agent's own), a namespace's label "
                  "(docker:1badc0deaaaa), its inode (or ipc:[N]), or all")
      ->capture_default_str();
}

int run_cli(int argc, char** argv) {
  CLI::App app{"ipctrail: watches System V IPC and keeps its history in SQLite", "ipctrail"};
  app.set_version_flag("--version", std::string("ipctrail ") + IPCTRAIL_VERSION);
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  CommandAction run;
  add_sample_command(app, run);
  add_agent_command(app, run);
  add_query_command(app, run);
  add_at_command(app, run);
  add_check_config_command(app, run);
  add_alerts_command(app, run);
  add_objects_command(app, run);
  add_who_command(app, run);
  add_report_command(app, run);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (dynamic_cast<const CLI::RequiredError*>(&error) && explain_missing_command(app)) {
      return kExitUsage;
    }
    int code = app.exit(error);
    return code == 0 ? kExitOk : kExitUsage;
  }
  setup_logging(log_level);
  try {
    return run();
  } catch (const std::exception& error) {
    spdlog::error("{}", error.what());
    return kExitFailure;
  }
}

}  // namespace ipctrail
