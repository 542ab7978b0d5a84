// One-shot commands as whole processes at the namespace maximum (issue #11): `ipctrail sample` in
// each format beside two references measured in the same run, `cat` of the three
// /proc/sysvipc files (the floor: reading what the kernel prints) and `ipcs -a` (the tool an
// operator would otherwise run). Targets: every format within 1.5x of `cat`, and at least 5x
// faster than `ipcs -a`.
//
// Needs root: it moves itself into a private IPC namespace, sets that namespace's limits and fills
// it with 32,000 semaphore arrays, 32,000 queues (every 8th holding a message) and 4,096 shared
// memory segments; the commands inherit the namespace. Each command runs `runs` times (argument
// 1, default 11), round-robin so that a load spike hits all of them alike, output to /dev/null;
// printed are the median wall times.
#include <fcntl.h>
#include <sched.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "bench/bench_support.h"

namespace {

constexpr int kArrays = 32000;
constexpr int kQueues = 32000;
constexpr int kSegments = 4096;

struct Command {
  std::string name;
  std::vector<std::string> argv;
  std::vector<double> milliseconds;
};

bool write_kernel_value(const std::string& name, const std::string& value) {
  std::ofstream file("/proc/sys/kernel/" + name);
  file << value;
  file.flush();
  return static_cast<bool>(file);
}

bool fill_namespace() {
  if (!write_kernel_value("sem", "32000 1024000000 500 32000") ||
      !write_kernel_value("msgmni", "32000") || !write_kernel_value("shmmni", "4096")) {
    std::perror("writing /proc/sys/kernel limits");
    return false;
  }
  for (int i = 0; i < kArrays; ++i) {
    if (::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600) < 0) {
      std::perror("semget");
      return false;
    }
  }
  struct {
    long type = 1;
    char text[64] = {};
  } message;
  for (int i = 0; i < kQueues; ++i) {
    int msqid = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (msqid < 0 || (i % 8 == 0 && ::msgsnd(msqid, &message, sizeof message.text, 0) != 0)) {
      std::perror("msgget/msgsnd");
      return false;
    }
  }
  for (int i = 0; i < kSegments; ++i) {
    if (::shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600) < 0) {
      std::perror("shmget");
      return false;
    }
  }
  return true;
}

// Runs the command to completion with stdout and stderr on /dev/null; its wall time in ms, or a
// negative number when it failed.
double run_once(const std::vector<std::string>& words) {
  auto start = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    std::vector<char*> argv;
    for (const std::string& word : words) argv.push_back(const_cast<char*>(word.c_str()));
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::chrono::duration<double, std::milli> spent = std::chrono::steady_clock::now() - start;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? spent.count() : -1;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 11;
  if (runs < 1) {
    std::fprintf(stderr, "usage: %s [runs]\n", argv[0]);
    return 2;
  }
  if (::unshare(CLONE_NEWIPC) != 0) {
    std::perror("unshare(CLONE_NEWIPC) (run as root)");
    return 1;
  }
  if (!fill_namespace()) return 1;
  std::printf("%d semaphore arrays, %d queues, %d segments; median of %d runs each\n", kArrays,
              kQueues, kSegments, runs);

  std::vector<Command> commands = {
      {"cat /proc/sysvipc/{sem,msg,shm}",
       {"cat", "/proc/sysvipc/sem", "/proc/sysvipc/msg", "/proc/sysvipc/shm"},
       {}},
      {"ipcs -a", {"ipcs", "-a"}, {}},
      {"ipctrail sample", {IPCTRAIL_BINARY, "sample"}, {}},
      {"ipctrail sample --format json", {IPCTRAIL_BINARY, "sample", "--format", "json"}, {}},
      {"ipctrail sample --format prometheus",
       {IPCTRAIL_BINARY, "sample", "--format", "prometheus"},
       {}},
  };
  for (Command& command : commands) {
    if (run_once(command.argv) < 0) {  // a warm-up run, and a check that the command works
      std::fprintf(stderr, "%s failed\n", command.name.c_str());
      return 1;
    }
  }
  for (int run = 0; run < runs; ++run) {
    for (Command& command : commands) {
      double ms = run_once(command.argv);
      if (ms < 0) {
        std::fprintf(stderr, "%s failed\n", command.name.c_str());
        return 1;
      }
      command.milliseconds.push_back(ms);
    }
  }

  double cat = ipctrail::bench::percentile(commands[0].milliseconds, 0.5);
  double ipcs = ipctrail::bench::percentile(commands[1].milliseconds, 0.5);
  std::printf("%-38s %10s %9s %9s\n", "command", "median ms", "x cat", "ipcs/x");
  bool on_target = true;
  for (const Command& command : commands) {
    double ms = ipctrail::bench::percentile(command.milliseconds, 0.5);
    bool is_sample = command.argv[0] == IPCTRAIL_BINARY;
    bool ok = !is_sample || (ms <= 1.5 * cat && ipcs / ms >= 5.0);
    on_target = on_target && ok;
    std::printf(
        "%-38s %10.1f %9.2f %9.2f%s\n", command.name.c_str(), ms, ms / cat, ipcs / ms,
        is_sample ? (ok ? "  on target" : "  MISSED (target: x cat <= 1.5, ipcs/x >= 5)") : "");
  }
  return on_target ? 0 : 3;
}
