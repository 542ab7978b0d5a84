// `ipctrail agent`: sample on a schedule and keep the history in SQLite, in the foreground.
#include <iostream>

#include "agent/agent_loop.h"
#include "agent/cli.h"
#include "agent/time_parse.h"
#include "config/config_file.h"

namespace ipctrail {

namespace {

// The parts of the config file the loop uses today; alerts, BPF and notify are not wired yet.
void apply_config(const Config& config, AgentOptions& agent) {
  agent.interval = config.interval;
  agent.db_path = config.database.path;
  agent.retention.max_age = config.database.retention;
  agent.retention.max_bytes = config.database.max_size;
  agent.collector.semaphores = config.collect.semaphores;
  agent.collector.message_queues = config.collect.message_queues;
  agent.collector.shared_memory = config.collect.shared_memory;
}

}  // namespace

void add_agent_command(CLI::App& app, CommandAction& run) {
  struct Options {
    std::optional<std::string> config;
    std::optional<std::string> db;
    std::optional<std::string> interval;
    std::uint64_t ticks = 0;
  };
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand(
      "agent", "Sample System V IPC on a schedule and keep the history in SQLite (foreground)");
  command->add_option("--config", options->config, "YAML config file (see check-config)");
  command->add_option("--db", options->db,
                      "History file (default /var/lib/ipctrail/history.db); overrides the config");
  command
      ->add_option("--interval", options->interval,
                   "Sampling interval, e.g. 1s, 500ms (default 1s); overrides the config")
      ->check([](const std::string& text) -> std::string {
        try {
          parse_positive_duration(text);
          return "";
        } catch (const TimeTextError& error) {
          return error.what();
        }
      });
  command->add_option("--ticks", options->ticks, "Stop after this many ticks (for tests)")
      ->group("");
  command->callback([&run, options] {
    run = [options] {
      AgentOptions agent;
      if (options->config) {
        try {
          apply_config(load_config_file(*options->config), agent);
        } catch (const ConfigError& error) {
          std::cerr << "ipctrail agent: " << error.what() << '\n';
          return kExitUsage;
        }
      }
      if (options->db) agent.db_path = *options->db;
      if (options->interval) agent.interval = parse_positive_duration(*options->interval);
      if (options->ticks > 0) agent.max_ticks = options->ticks;
      return run_agent(agent);
    };
  });
}

}  // namespace ipctrail
