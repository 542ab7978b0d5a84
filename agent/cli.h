// The command line: each subcommand registers itself on the CLI11 app from its own file.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace ipctrail {

// Exit codes every subcommand shares.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the work itself failed
inline constexpr int kExitUsage = 2;    // bad arguments, bad configuration, not an ipctrail file

// A subcommand's registration fills `run` with what to do once parsing succeeded.
using CommandAction = std::function<int()>;
void add_sample_command(CLI::App& app, CommandAction& run);
void add_agent_command(CLI::App& app, CommandAction& run);
void add_query_command(CLI::App& app, CommandAction& run);
void add_at_command(CLI::App& app, CommandAction& run);
void add_check_config_command(CLI::App& app, CommandAction& run);
void add_alerts_command(CLI::App& app, CommandAction& run);

int run_cli(int argc, char** argv);

}  // namespace ipctrail
