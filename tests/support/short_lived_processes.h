// Test support: a fork bomb of short-lived processes (issue 13's scale requirements), each a
// distinct pid that makes its IPC calls and exits, as a pre-forking server's workers would.
#pragma once

#include <functional>
#include <map>

namespace ipctrail::testing {

struct ShortLivedRun {
  std::map<int, int> exit_codes;  // exit code -> how many processes exited with it
  int failed = 0;                 // not forked, or killed by a signal
};

// Forks `count` children named `comm` (the task name BPF reports), at most `at_once` alive at a
// time; each runs `calls` and exits with what it returns. Returns once every child is reaped.
// Fork before starting threads.
ShortLivedRun run_short_lived_processes(int count, const char* comm,
                                        const std::function<int()>& calls, int at_once = 64);

}  // namespace ipctrail::testing
