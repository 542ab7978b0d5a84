// Every IPC namespace of the host (docs/design.md §9), timed as root:
// 1. rescanning /proc for namespaces with 5,000 processes (target: under 20 ms);
// 2. one tick over 200 namespaces holding 50 objects each (target: under 20 ms), and the cost of
//    each extra namespace, from ticks over 1, 50, 100 and 200 of them.
// Processes are this benchmark's children (sleeping, killed at the end); the namespaces are held by
// tests/support's NamespaceHolder.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "agent/namespaces/namespace_sampler.h"
#include "agent/namespaces/namespace_scan.h"
#include "bench/bench_support.h"
#include "tests/support/namespace_holder.h"

namespace {

using ipctrail::bench::Clock;

using ipctrail::bench::cpu_ms;

// Medians of the wall-clock time and of the CPU time (all threads) of `work`: on a shared,
// loaded machine the wall clock includes waiting for a CPU, the CPU time is the work's own cost.
// The fastest wall-clock run is the nearest to what the work costs on an idle machine.
struct Timing {
  double wall_ms = 0;
  double cpu_ms = 0;
  double fastest_ms = 0;
};

template <typename Work>
Timing median(int runs, Work work) {
  std::vector<double> walls, cpus;
  for (int i = 0; i < runs; ++i) {
    auto start = Clock::now();
    double cpu_start = cpu_ms();
    work();
    cpus.push_back(cpu_ms() - cpu_start);
    walls.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(walls.begin(), walls.end());
  std::sort(cpus.begin(), cpus.end());
  return {walls[walls.size() / 2], cpus[cpus.size() / 2], walls.front()};
}

// `count` children that sleep until killed (or until this process dies).
std::vector<pid_t> start_sleepers(int count) {
  std::vector<pid_t> pids;
  pid_t parent = ::getpid();
  for (int i = 0; i < count; ++i) {
    pid_t pid = ::fork();
    if (pid < 0) {
      std::perror("fork");
      break;
    }
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(0);
      for (;;) ::pause();
    }
    pids.push_back(pid);
  }
  return pids;
}

void stop(const std::vector<pid_t>& pids) {
  for (pid_t pid : pids) ::kill(pid, SIGKILL);
  for (pid_t pid : pids) ::waitpid(pid, nullptr, 0);
}

void bench_rescan() {
  ipctrail::NamespaceScanner scanner;
  std::size_t before = scanner.rescan().processes;
  std::vector<pid_t> sleepers = start_sleepers(5000 - static_cast<int>(before));
  std::size_t processes = scanner.rescan().processes;
  Timing first = median(1, [] { ipctrail::NamespaceScanner().rescan(); });
  Timing rescan = median(30, [&] { scanner.rescan(); });
  std::printf(
      "rescan of /proc: %zu processes, %zu namespaces: %.2f ms wall, %.2f ms CPU (medians), "
      "fastest %.2f ms; first scan %.2f ms wall; target 20 ms\n",
      processes, scanner.last().namespaces.size(), rescan.wall_ms, rescan.cpu_ms, rescan.fastest_ms,
      first.wall_ms);
  stop(sleepers);
}

void bench_ticks(bool inventory) {
  constexpr int kNamespaces = 200;
  ipctrail::testing::NamespaceContents contents;
  contents.semaphore_arrays.assign(20, 2);
  contents.queues.assign(15, std::vector<std::size_t>{64});
  contents.segments.assign(15, 4096);
  std::vector<ipctrail::testing::NamespaceHolder> holders;
  holders.reserve(kNamespaces);
  for (int i = 0; i < kNamespaces; ++i) {
    holders.emplace_back(contents);
    if (!holders.back().ok()) {
      std::fprintf(stderr, "namespaces_bench: cannot make namespace %d (run as root)\n", i);
      std::exit(1);
    }
  }
  ipctrail::NamespaceScanner scanner;
  const ipctrail::NamespaceScan& scan = scanner.rescan();
  std::vector<ipctrail::IpcNamespaceRef> held;
  for (const auto& holder : holders) held.push_back(*scan.find(holder.inode()));

  ipctrail::CollectorOptions options;
  options.inventory = inventory;
  std::printf("one tick, 50 objects per namespace, %s:\n",
              inventory ? "with the object inventory (as the agent)" : "totals only (as sample)");
  Timing at_one;
  for (int count : {1, 50, 100, 200}) {
    std::vector<ipctrail::IpcNamespaceRef> targets(held.begin(), held.begin() + count);
    ipctrail::NamespaceSampler sampler(options);
    sampler.sample(targets);  // first tick: limits read, collectors made
    Timing tick = median(20, [&] {
      for (const auto& result : sampler.sample(targets)) {
        if (!result.sample) std::fprintf(stderr, "not sampled: %s\n", result.error.c_str());
      }
    });
    if (count == 1) at_one = tick;
    std::printf("  %3d namespaces: %.2f ms wall, %.2f ms CPU, fastest %.2f ms", count, tick.wall_ms,
                tick.cpu_ms, tick.fastest_ms);
    if (count > 1) {
      std::printf(", per extra namespace %.1f us wall, %.1f us CPU",
                  (tick.wall_ms - at_one.wall_ms) * 1000 / (count - 1),
                  (tick.cpu_ms - at_one.cpu_ms) * 1000 / (count - 1));
    }
    std::printf("%s\n", count == kNamespaces ? " (target 20 ms)" : "");
  }
}

}  // namespace

int main() {
  bench_rescan();
  bench_ticks(false);
  bench_ticks(true);
  return 0;
}
