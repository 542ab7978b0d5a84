// Issue 13's memory requirement, measured on the real agent (root, BPF attached, in a private IPC
// namespace): its RSS stays under 16 MiB with 10,000 distinct processes seen. Prints the agent's
// RSS with no process (the reference), then after each round of 10,000 short-lived processes,
// each of which makes a semaphore array and removes it (a count row, a process row and two
// lifecycle events each), once the history holds every one of their calls.
#include <SQLiteCpp/SQLiteCpp.h>
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "bench/bench_support.h"
#include "tests/support/agent_process.h"
#include "tests/support/prometheus_support.h"
#include "tests/support/short_lived_processes.h"

namespace {

constexpr int kProcessesPerRound = 10'000;
// Rounds beyond the first show whether the per-process state the agent keeps is bounded. Three
// rounds stay below pid_max (32,768 here): past it pids come back, and a pid that comes back with
// the same name and cgroup continues its processes row.
constexpr int kRounds = 3;
constexpr double kTargetMiB = 16;
constexpr const char* kComm = "ipcworker";

int make_and_remove_an_array() {
  int id = ::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
  if (id < 0) return 1;
  return ::semctl(id, 0, IPC_RMID) == 0 ? 0 : 2;
}

// VmRSS, its anonymous part (the heap: what the agent holds) and its file part (the pages of the
// binary and the shared libraries it touched), and VmHWM (the peak) of `pid`, in MiB.
struct Memory {
  double rss_mib = 0;
  double anon_mib = 0;
  double file_mib = 0;
  double peak_mib = 0;
};

Memory memory_of(pid_t pid) {
  Memory memory;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) memory.rss_mib = std::stod(line.substr(6)) / 1024;
    if (line.rfind("VmHWM:", 0) == 0) memory.peak_mib = std::stod(line.substr(6)) / 1024;
    if (line.rfind("RssAnon:", 0) == 0) memory.anon_mib = std::stod(line.substr(8)) / 1024;
    if (line.rfind("RssFile:", 0) == 0) memory.file_mib = std::stod(line.substr(8)) / 1024;
  }
  return memory;
}

// The semgets of the workers that the history holds (one per worker).
std::int64_t stored_semgets(const std::string& db) {
  SQLite::Database file(db, SQLite::OPEN_READONLY);
  file.setBusyTimeout(5000);
  return file
      .execAndGet(
          "SELECT coalesce(sum(count), 0) FROM process_calls WHERE call = 'semget' AND "
          "comm = '" +
          std::string(kComm) + "'")
      .getInt64();
}

}  // namespace

int main() {
  namespace testing = ipctrail::testing;
  if (::geteuid() != 0 || ::unshare(CLONE_NEWIPC) != 0) {
    std::fprintf(stderr, "who_scale_bench: needs root (a private IPC namespace and BPF)\n");
    return 1;
  }
  testing::ScratchDirectory scratch;
  std::string db = (scratch.path() / "history.db").string();
  std::string config = (scratch.path() / "ipctrail.yaml").string();
  std::string log = (scratch.path() / "agent.log").string();
  std::ofstream(config) << "interval: 1s\nbpf:\n  enabled: true\n";
  testing::AgentProcess agent(db, {"--config", config}, log);
  auto committed = [&] { return testing::count_of(testing::read_text(log), "committed"); };
  if (!testing::eventually([&] { return !agent.running() || committed() >= 5; }) ||
      !agent.running() || testing::read_text(log).find("BPF attached") == std::string::npos) {
    std::fprintf(stderr, "who_scale_bench: the agent did not start with BPF:\n%s\n",
                 testing::read_text(log).c_str());
    return 1;
  }
  Memory reference = memory_of(agent.pid());
  std::printf(
      "agent RSS with no process (reference): %.1f MiB (anonymous %.1f, files %.1f), peak %.1f MiB "
      "(at start: BPF loading)\n",
      reference.rss_mib, reference.anon_mib, reference.file_mib, reference.peak_mib);

  bool within = true;
  for (int round = 1; round <= kRounds; ++round) {
    testing::ShortLivedRun run =
        testing::run_short_lived_processes(kProcessesPerRound, kComm, make_and_remove_an_array);
    if (run.failed != 0 || run.exit_codes[0] != kProcessesPerRound) {
      std::fprintf(stderr, "who_scale_bench: %d processes failed their calls\n",
                   kProcessesPerRound - run.exit_codes[0]);
      return 1;
    }
    std::int64_t expected = static_cast<std::int64_t>(round) * kProcessesPerRound;
    if (!testing::eventually([&] { return stored_semgets(db) >= expected; })) {
      std::fprintf(stderr, "who_scale_bench: the history holds %lld of %lld processes\n",
                   static_cast<long long>(stored_semgets(db)), static_cast<long long>(expected));
      return 1;
    }
    Memory now = memory_of(agent.pid());
    std::printf(
        "agent RSS after %lld distinct processes: %.1f MiB (anonymous %.1f, files %.1f; +%.1f MiB "
        "over the reference); target < %.0f MiB\n",
        static_cast<long long>(expected), now.rss_mib, now.anon_mib, now.file_mib,
        now.rss_mib - reference.rss_mib, kTargetMiB);
    within = within && now.rss_mib < kTargetMiB;
  }
  if (agent.stop(SIGTERM) != 0) {
    std::fprintf(stderr, "who_scale_bench: the agent did not exit cleanly:\n%s\n",
                 testing::read_text(log).c_str());
    return 1;
  }
  std::printf("%s (load average %s)\n", within ? "within the target" : "OVER THE TARGET",
              ipctrail::bench::load_average().c_str());
  return within ? 0 : 1;
}
