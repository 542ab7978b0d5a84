// `ipctrail agent`: sample on a schedule and keep the history in SQLite, in the foreground.
#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
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
  // The history keeps every object (ipctrail objects, the objects view), each queue's capacity
  // (msg_qbytes) included, which its alert uses too.
  agent.collector.inventory = true;
  agent.collector.leaks = config.leaks;
  agent.namespaces = config.namespaces;
  agent.namespaces_rescan = config.namespaces_rescan;
  agent.bpf.enabled = config.bpf.enabled;
  agent.bpf.mode = config.bpf.mode;
  agent.alerts = config.alerts;
  agent.notify.command = config.notify.exec;
  agent.notify.timeout = config.notify.timeout;
  agent.prometheus_listen = config.exporting.prometheus_listen;
  if (config.exporting.textfile_path) agent.textfile_path = *config.exporting.textfile_path;
  return agent;
}

// What tells one version of the file from another without reading it: a write changes the size or
// the modification time, a rename-over the inode.
std::string file_state(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return std::strerror(errno);
  return fmt::format("{} bytes, inode {}, modified {}.{:09}", info.st_size, info.st_ino,
                     info.st_mtim.tv_sec, info.st_mtim.tv_nsec);
}

bool is_empty_file(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) && info.st_size == 0;
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
      AgentReloader reload;
      if (options->config) {
        reload = [path = *options->config, load] {
          ConfigReading reading;
          std::string before = file_state(path);
          try {
            // An empty file would reset every setting to its default: far more likely a file
            // caught while it is rewritten than the operator's wish.
            if (is_empty_file(path)) {
              throw ConfigError(fmt::format(
                  "{} is empty; an empty file on reload is taken for one being written (a file "
                  "of only a comment such as '# defaults' asks for the defaults)",
                  path));
            }
            reading.options = load();
          } catch (const ConfigError& error) {
            reading.refusal = error.what();
          }
          std::string after = file_state(path);
          reading.file_state = before == after ? before : before + " then " + after;
          return reading;
        };
      }
      return run_agent(agent, reload);
    };
  });
}

}  // namespace ipctrail
