#include "tests/support/short_lived_processes.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/sem.h>
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

int make_and_remove_a_semaphore_array() {
  int id = ::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
  if (id < 0) return 1;
  return ::semctl(id, 0, IPC_RMID) == 0 ? 0 : 2;
}

std::int64_t stored_semgets(const std::string& db, const std::string& comm) {
  SQLite::Database file(db, SQLite::OPEN_READONLY);
  file.setBusyTimeout(5000);
  SQLite::Statement query(file,
                          "SELECT coalesce(sum(count), 0) FROM process_calls WHERE call = 'semget' "
                          "AND comm = ?");
  query.bind(1, comm);
  query.executeStep();
  return query.getColumn(0).getInt64();
}

}  // namespace ipctrail::testing
