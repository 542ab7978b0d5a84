// `ipctrail agent`: sample on a schedule and keep the history in SQLite, in the foreground.
#include "agent/agent_loop.h"
#include "agent/cli.h"
#include "agent/time_parse.h"

namespace ipctrail {

void add_agent_command(CLI::App& app, CommandAction& run) {
  struct Options {
    std::string db = "/var/lib/ipctrail/history.db";
    std::string interval = "1s";
    std::uint64_t ticks = 0;
  };
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand(
      "agent", "Sample System V IPC on a schedule and keep the history in SQLite (foreground)");
  command->add_option("--db", options->db, "History file")->capture_default_str();
  command->add_option("--interval", options->interval, "Sampling interval, e.g. 1s, 500ms, 1m")
      ->capture_default_str()
      ->check([](const std::string& text) -> std::string {
        try {
          parse_duration(text);
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
      agent.db_path = options->db;
      agent.interval = parse_duration(options->interval);
      if (options->ticks > 0) agent.max_ticks = options->ticks;
      return run_agent(agent);
    };
  });
}

}  // namespace ipctrail
