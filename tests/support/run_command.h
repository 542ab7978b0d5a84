// Test support: run the ipctrail binary as a user would and capture what it prints.
#pragma once

#include <cstdint>
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

// run_ipctrail with the binary's address space, CPU time and wall-clock time capped (ulimit -v,
// ulimit -t, timeout -s KILL), so that a regression to unbounded memory, a busy loop or a hang
// fails in seconds instead of taking the machine down; a killed binary exits 128 + the signal.
// Under AddressSanitizer, which reserves terabytes of address space, memory is not capped.
CommandResult run_ipctrail_bounded(const std::string& arguments, std::uint64_t max_bytes = 1 << 30,
                                   unsigned seconds = 20);

}  // namespace ipctrail::testing
