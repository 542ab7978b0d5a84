#include "tests/support/short_lived_processes.h"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ipctrail::testing {

ShortLivedRun run_short_lived_processes(int count, const char* comm,
                                        const std::function<int()>& calls, int at_once) {
  ShortLivedRun run;
  auto reap_one = [&] {
    int status = 0;
    if (::waitpid(-1, &status, 0) > 0 && WIFEXITED(status)) {
      ++run.exit_codes[WEXITSTATUS(status)];
    } else {
      ++run.failed;
    }
  };
  int alive = 0;
  for (int i = 0; i < count; ++i) {
    if (alive == at_once) {
      reap_one();
      --alive;
    }
    pid_t child = ::fork();
    if (child < 0) {
      ++run.failed;
      continue;
    }
    if (child == 0) {
      ::prctl(PR_SET_NAME, comm);
      ::_exit(calls());
    }
    ++alive;
  }
  for (; alive > 0; --alive) reap_one();
  return run;
}

}  // namespace ipctrail::testing
