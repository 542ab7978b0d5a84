#include "agent/cli/cli.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "agent/cli/commands.h"

namespace ipctrail {

namespace {

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("ipctrail");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

}  // namespace

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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
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
