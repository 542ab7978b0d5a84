// Test support: run the ipctrail binary as a user would and capture what it prints.
#pragma once

#include <string>

namespace ipctrail::testing {

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string output;  // stdout and stderr together
};

// Runs `ipctrail <arguments>` through the shell; arguments are shell words.
CommandResult run_ipctrail(const std::string& arguments);

// Runs a shell command line (e.g. a tool such as promtool).
CommandResult run_shell(const std::string& command_line);

}  // namespace ipctrail::testing
