// Test support: a fork bomb of short-lived processes (issue 13's scale requirements), each a
// distinct pid that makes its IPC calls and exits, as a pre-forking server's workers would.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

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

// A child's calls for the memory measurements: makes a semaphore array and removes it (a count row,
// a process row and two lifecycle events in the history); 0 when both calls succeed.
int make_and_remove_a_semaphore_array();

// The semget calls of the processes named `comm` that the history file `db` holds.
std::int64_t stored_semgets(const std::string& db, const std::string& comm);

}  // namespace ipctrail::testing
