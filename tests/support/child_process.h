// Test support: make calls from another process. The BPF programs leave out the calls of the
// process that opened them (the agent), so the calls a test wants counted come from a child.
#pragma once

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ipctrail::testing {

// Runs `calls` in a forked child, named `comm` when given (the task name BPF reports), waits for
// it and returns its pid. The child's failed expectations fail the test.
template <typename Calls>
pid_t in_child(Calls calls, const char* comm = nullptr) {
  pid_t child = ::fork();
  if (child < 0) {
    ADD_FAILURE() << "fork failed";
    return -1;
  }
  if (child == 0) {
    if (comm != nullptr) ::prctl(PR_SET_NAME, comm);
    calls();
    ::_exit(::testing::Test::HasFailure() ? 1 : 0);
  }
  int status = 0;
  if (::waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    ADD_FAILURE() << "the child's calls failed";
  }
  return child;
}

}  // namespace ipctrail::testing
