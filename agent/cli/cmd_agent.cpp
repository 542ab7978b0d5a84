// `ipctrail agent`: sample on a schedule and keep the history in SQLite, in the foreground.
#include <spdlog/spdlog.h>

#include <iostream>

#include "agent/cli/commands.h"
#include "agent/daemon/agent_loop.h"
#include "config/config_file.h"

namespace ipctrail {

namespace {

AgentOptions agent_options(const Config& config) {
  AgentOptions agent;
  agent.interval = config.interval;
  agent.db_path = config.database.path;
  agent.retention.max_age = config.database.retention;
  agent.retention.max_bytes = config.database.max_size;
  agent.collector.semaphores = config.collect.semaphores;
  agent.collector.message_queues = config.collect.message_queues;
  agent.collector.shared_memory = config.collect.shared_memory;
  // Each queue's capacity (msg_qbytes) costs a msgctl per new queue: read it only for its alert.
  agent.collector.queue_capacity = config.alerts.at("message_queue_bytes_used").enabled;
  // The history keeps every object (ipctrail objects, the objects view).
  agent.collector.inventory = true;
  agent.collector.leaks = config.leaks;
  agent.bpf.enabled = config.bpf.enabled;
  agent.bpf.mode = config.bpf.mode;
  agent.alerts = config.alerts;
  agent.notify.command = config.notify.exec;
  agent.notify.timeout = config.notify.timeout;
  agent.prometheus_listen = config.exporting.prometheus_listen;
  if (config.exporting.textfile_path) agent.textfile_path = *config.exporting.textfile_path;
  return agent;
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
  command->add_option("--interval", options->interval,
                      "Sampling interval from 100ms to 1h, e.g. 1s, 500ms (default 1s); overrides "
                      "the config");
  command->add_option("--ticks", options->ticks, "Stop after this many ticks (for tests)")
      ->group("");
  command->callback([&run, options] {
    run = [options] {
      // Defaults, then the file, then the flags, checked by the file's rules; the same again on
      // every SIGHUP.
      auto load = [options] {
        Config config;
        if (options->config) config = load_config_file(*options->config);
        apply_overrides(config, {.interval = options->interval, .database_path = options->db});
        AgentOptions agent = agent_options(config);
        if (options->ticks > 0) agent.max_ticks = options->ticks;
        return agent;
      };
      AgentOptions agent;
      try {
        agent = load();
      } catch (const ConfigError& error) {
        std::cerr << "ipctrail agent: " << error.what() << '\n';
        return kExitUsage;
      }
      AgentReloader reload = [options, load]() -> std::optional<AgentOptions> {
        if (!options->config) {
          spdlog::warn("SIGHUP: the agent was started without --config; nothing to reload");
          return std::nullopt;
        }
        try {
          AgentOptions reloaded = load();
          spdlog::info("SIGHUP: read {}; applying it at the next tick", *options->config);
          return reloaded;
        } catch (const ConfigError& error) {
          spdlog::error("SIGHUP: {}; keeping the running configuration", error.what());
          return std::nullopt;
        }
      };
      return run_agent(agent, reload);
    };
  });
}

}  // namespace ipctrail
