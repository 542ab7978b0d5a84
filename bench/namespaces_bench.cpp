// Every IPC namespace of the host (docs/design.md §9), timed as root:
// 1. rescanning /proc for namespaces with 5,000 processes (target: under 20 ms), by /proc's links
//    (the fallback) beside the BPF task iterator;
// 2. the sampler alone, one worker: one pass over 200 namespaces holding 50 objects each, and the
//    cost of each extra namespace, from passes over 1, 50, 100 and 200 of them;
// 3. the agent's whole tick as agent/daemon/agent_loop.cpp does it (target: under 20 ms with 200
//    namespaces of 50 objects), with one sampler worker and with the default (one per usable CPU,
//    4 at most): its own collection, the namespace watch's setns pass, the alerts of every
//    namespace, the tick record and the history write, timed per phase, beside the same tick with
//    the own namespace only; p50 and p99 of wall and CPU time over 100 ticks, one second apart on
//    the agent's clocks (so rescans, alert evaluations and history keyframes fall as they do in
//    the agent).
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
#include <filesystem>
#include <map>
#include <memory>
#include <vector>

#include "agent/alerts/alerts.h"
#include "agent/daemon/history_charts.h"
#include "agent/daemon/namespace_watch.h"
#include "agent/namespaces/namespace_sampler.h"
#include "agent/namespaces/namespace_scan.h"
#include "bench/bench_support.h"
#include "bpf/namespace_iterator.h"
#include "storage/store.h"
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

// Both ways of listing the processes' namespaces, runs alternated so that the machine's load
// falls on both alike: readlink of every /proc/<pid>/ns/ipc (the fallback, and the reference) and
// the BPF task iterator (bpf/namespace_iterator.h).
void bench_rescan() {
  ipctrail::NamespaceIteratorOpening opening = ipctrail::NamespaceIterator::open();
  ipctrail::NamespaceScanner by_links;
  std::size_t before = by_links.rescan().processes;
  std::vector<pid_t> sleepers = start_sleepers(5000 - static_cast<int>(before));
  std::size_t processes = by_links.rescan().processes;
  Timing first = median(1, [] { ipctrail::NamespaceScanner().rescan(); });
  std::printf("rescan of /proc: %zu processes, %zu namespaces; load average %s\n", processes,
              by_links.last().namespaces.size(), ipctrail::bench::load_average().c_str());
  if (!opening.iterator) {
    Timing rescan = median(30, [&] { by_links.rescan(); });
    std::printf(
        "  /proc links:   %.2f ms wall, %.2f ms CPU (medians), fastest %.2f ms; first scan %.2f "
        "ms wall; target 20 ms\n  task iterator: not available: %s\n",
        rescan.wall_ms, rescan.cpu_ms, rescan.fastest_ms, first.wall_ms, opening.failure.c_str());
    stop(sleepers);
    return;
  }
  ipctrail::NamespaceScanner by_iterator(
      "/proc",
      [iterator = opening.iterator.get()](auto& members) { return iterator->read(members); });
  by_iterator.rescan();
  std::vector<double> link_walls, link_cpus, iterator_walls, iterator_cpus;
  auto time = [](ipctrail::NamespaceScanner& scanner, std::vector<double>& walls,
                 std::vector<double>& cpus) {
    auto start = Clock::now();
    double cpu_start = cpu_ms();
    scanner.rescan();
    cpus.push_back(cpu_ms() - cpu_start);
    walls.push_back(ipctrail::bench::ms_since(start));
  };
  for (int run = 0; run < 30; ++run) {
    time(by_links, link_walls, link_cpus);
    time(by_iterator, iterator_walls, iterator_cpus);
  }
  auto line = [](const char* name, const std::vector<double>& walls,
                 const std::vector<double>& cpus) {
    std::printf("  %-14s %.2f ms CPU, %.2f ms wall (medians), fastest %.2f ms wall\n", name,
                ipctrail::bench::percentile(cpus, 0.5), ipctrail::bench::percentile(walls, 0.5),
                ipctrail::bench::percentile(walls, 0));
  };
  line("/proc links:", link_walls, link_cpus);
  line("task iterator:", iterator_walls, iterator_cpus);
  std::printf("  first scan (/proc links) %.2f ms wall; target 20 ms; the iterator's scan %s\n",
              first.wall_ms,
              by_iterator.last().from_source ? "listed by the iterator" : "fell back to /proc");
  stop(sleepers);
}

constexpr int kNamespaces = 200;

// kNamespaces namespaces of 50 objects each (20 arrays, 15 queues, 15 segments).
std::vector<ipctrail::testing::NamespaceHolder> hold_namespaces() {
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
  return holders;
}

void bench_sampler(const std::vector<ipctrail::testing::NamespaceHolder>& holders, bool inventory) {
  ipctrail::NamespaceScanner scanner;
  const ipctrail::NamespaceScan& scan = scanner.rescan();
  std::vector<ipctrail::IpcNamespaceRef> held;
  for (const auto& holder : holders) held.push_back(*scan.find(holder.inode()));

  ipctrail::CollectorOptions options;
  options.inventory = inventory;
  std::printf("one tick, 50 objects per namespace, one worker, %s:\n",
              inventory ? "with the object inventory (as the agent)" : "totals only (as sample)");
  Timing at_one;
  for (int count : {1, 50, 100, 200}) {
    std::vector<ipctrail::IpcNamespaceRef> targets(held.begin(), held.begin() + count);
    ipctrail::NamespaceSampler sampler(options, 1);
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

// The parts of the agent a tick goes through (agent_loop.cpp's Components), with the same options
// as the agent's defaults: the inventory and the leak rules on, BPF off (it counts in the kernel,
// not per tick).
class AgentTick {
 public:
  // `workers`: the namespace sampler's threads; 0 for the own namespace only.
  AgentTick(const std::filesystem::path& history, std::size_t workers)
      : collector_(options()), engine_(alerts_), store_(store_options(history)) {
    if (workers > 0) {
      watch_ = std::make_unique<ipctrail::NamespaceWatch>(options(), std::chrono::seconds(30),
                                                          false, workers);
    }
  }

  // Wall-clock milliseconds of each phase of one tick at `now` (and `wall_ms` on the wall clock).
  struct Phases {
    double collect = 0, alerts = 0, record = 0, write = 0;
    std::size_t namespaces = 0;
  };
  Phases run(ipctrail::NamespaceWatch::Clock::time_point now, std::int64_t wall_ms) {
    Phases phases;
    auto started = Clock::now();
    collector_.collect(sample_);
    sample_.ts_ms = wall_ms;
    std::vector<ipctrail::WatchedNamespace> others;
    if (watch_) others = watch_->sample(now);
    phases.namespaces = others.size();
    phases.collect = ipctrail::bench::ms_since(started);

    started = Clock::now();
    std::vector<ipctrail::AlertTransition> transitions = engine_.evaluate(sample_, now);
    std::map<std::uint64_t, std::unique_ptr<ipctrail::AlertEngine>> engines;
    for (ipctrail::WatchedNamespace& other : others) {
      auto found = engines_.find(other.identity.inode);
      auto engine = found != engines_.end() && !other.new_incarnation
                        ? std::move(found->second)
                        : std::make_unique<ipctrail::AlertEngine>(alerts_);
      if (other.sample) {
        for (auto& transition : engine->evaluate(*other.sample, now)) {
          transitions.push_back(std::move(transition));
        }
      }
      engines.emplace(other.identity.inode, std::move(engine));
    }
    engines_ = std::move(engines);
    phases.alerts = ipctrail::bench::ms_since(started);

    started = Clock::now();
    ipctrail::fill_tick_record(sample_, 1000, tick_);
    tick_.namespaces.clear();
    for (auto& other : others) tick_.namespaces.push_back(ipctrail::namespace_tick_record(other));
    tick_.alert_transitions = transitions;
    phases.record = ipctrail::bench::ms_since(started);

    started = Clock::now();
    store_.write_tick(tick_);
    phases.write = ipctrail::bench::ms_since(started);
    return phases;
  }

 private:
  static ipctrail::StoreOptions store_options(const std::filesystem::path& history) {
    ipctrail::StoreOptions options;
    options.path = history;
    return options;
  }
  static ipctrail::CollectorOptions options() {
    ipctrail::CollectorOptions options;
    options.inventory = true;
    return options;
  }

  ipctrail::Collector collector_;
  ipctrail::AlertConfigs alerts_ = ipctrail::Config::default_alerts();
  ipctrail::AlertEngine engine_;
  std::map<std::uint64_t, std::unique_ptr<ipctrail::AlertEngine>> engines_;
  std::unique_ptr<ipctrail::NamespaceWatch> watch_;
  ipctrail::Store store_;
  ipctrail::Sample sample_;
  ipctrail::TickRecord tick_;
};

struct TickFigures {
  double wall_p50 = 0, wall_p99 = 0, cpu_p50 = 0, cpu_p99 = 0;
  double collect = 0, alerts = 0, record = 0, write = 0;  // medians, wall ms
  std::size_t namespaces = 0;
};

TickFigures time_agent_ticks(std::size_t workers) {
  constexpr int kTicks = 100;
  char folder[] = "/var/tmp/ipctrail-nsbench-XXXXXX";
  if (::mkdtemp(folder) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  std::vector<double> walls, cpus, collects, alerts, records, writes;
  TickFigures figures;
  {
    AgentTick agent(std::filesystem::path(folder) / "history.db", workers);
    auto now = ipctrail::NamespaceWatch::Clock::now();
    std::int64_t wall_ms = 1'700'000'000'000;
    for (int i = 0; i < kTicks + 1; ++i, now += std::chrono::seconds(1), wall_ms += 1000) {
      auto started = Clock::now();
      double cpu_start = cpu_ms();
      AgentTick::Phases phases = agent.run(now, wall_ms);
      if (i == 0) continue;  // the first tick creates the file and reads every limit
      cpus.push_back(cpu_ms() - cpu_start);
      walls.push_back(ipctrail::bench::ms_since(started));
      collects.push_back(phases.collect);
      alerts.push_back(phases.alerts);
      records.push_back(phases.record);
      writes.push_back(phases.write);
      figures.namespaces = phases.namespaces;
    }
  }
  std::filesystem::remove_all(folder);
  using ipctrail::bench::percentile;
  figures.wall_p50 = percentile(walls, 0.5);
  figures.wall_p99 = percentile(walls, 0.99);
  figures.cpu_p50 = percentile(cpus, 0.5);
  figures.cpu_p99 = percentile(cpus, 0.99);
  figures.collect = percentile(collects, 0.5);
  figures.alerts = percentile(alerts, 0.5);
  figures.record = percentile(records, 0.5);
  figures.write = percentile(writes, 0.5);
  return figures;
}

void print_agent_ticks(const char* what, const TickFigures& figures) {
  std::printf(
      "  %s: wall p50 %.2f ms, p99 %.2f ms; CPU p50 %.2f ms, p99 %.2f ms; phases (wall medians): "
      "collect %.2f, alerts %.2f, record %.2f, history write %.2f ms\n",
      what, figures.wall_p50, figures.wall_p99, figures.cpu_p50, figures.cpu_p99, figures.collect,
      figures.alerts, figures.record, figures.write);
}

void bench_agent_ticks() {
  std::printf("the agent's tick (100 ticks, one second apart; rescans every 30 s):\n");
  TickFigures own = time_agent_ticks(0);
  print_agent_ticks("own namespace only (reference)", own);
  std::size_t workers = ipctrail::NamespaceSampler::default_workers();
  // One worker first: the sampler's tick before it had several, and the CPU time both spend.
  for (std::size_t count : {std::size_t{1}, workers}) {
    TickFigures all = time_agent_ticks(count);
    char what[96];
    std::snprintf(what, sizeof what, "own + %zu namespaces, %zu sampler worker%s", all.namespaces,
                  count, count == 1 ? "" : "s");
    print_agent_ticks(what, all);
    double extra = static_cast<double>(std::max<std::size_t>(all.namespaces, 1));
    std::printf(
        "  per extra namespace: %.1f us wall, %.1f us CPU (p50s); target: 200 under 20 ms\n",
        (all.wall_p50 - own.wall_p50) * 1000 / extra, (all.cpu_p50 - own.cpu_p50) * 1000 / extra);
    if (workers == 1) break;
  }
}

}  // namespace

// `namespaces_bench agent` runs the agent's ticks alone (for a profiler: perf record -g).
int main(int argc, char** argv) {
  bool agent_only = argc > 1 && std::strcmp(argv[1], "agent") == 0;
  if (!agent_only) bench_rescan();
  std::vector<ipctrail::testing::NamespaceHolder> holders = hold_namespaces();
  if (!agent_only) {
    bench_sampler(holders, false);
    bench_sampler(holders, true);
  }
  bench_agent_ticks();
  return 0;
}
