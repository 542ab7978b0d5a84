// The subcommands: each registers itself on the CLI11 app from its own file (internal to cli/).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string_view>

#include "model/exit_codes.h"

namespace ipctrail {

// A subcommand's registration fills `run` with what to do once parsing succeeded.
using CommandAction = std::function<int()>;

// For the history readers: runs `body`; a bad time (TimeTextError) or a file that is not a
// usable history (HistoryFileError) becomes one line "ipctrail <command>: ..." and kExitUsage.
int run_history_command(std::string_view command, const CommandAction& body);

// `--namespace NAME|INODE|all` of the commands that read the history (default: the host's rows).
void add_namespace_option(CLI::App& command, std::string& choice);
void add_sample_command(CLI::App& app, CommandAction& run);
void add_agent_command(CLI::App& app, CommandAction& run);
void add_query_command(CLI::App& app, CommandAction& run);
void add_at_command(CLI::App& app, CommandAction& run);
void add_check_config_command(CLI::App& app, CommandAction& run);
void add_alerts_command(CLI::App& app, CommandAction& run);
void add_objects_command(CLI::App& app, CommandAction& run);
void add_who_command(CLI::App& app, CommandAction& run);
void add_report_command(CLI::App& app, CommandAction& run);

}  // namespace ipctrail
