// One collection cycle against (a) the floor: reading the same kernel sources with a plain read
// loop and no parsing, and (b) `ipcs -a` from util-linux, at four namespace sizes.
//
// Runs as root: each size gets its own private IPC namespace (unshare), filled before timing.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "agent/collect/collector.h"

extern char** environ;

namespace {

struct Population {
  std::string name;
  int semaphore_arrays;
  int queues;  // a third of them hold a message
  int segments;
};

void fail(const std::string& what) {
  std::cerr << "collect_bench: " << what << ": " << std::strerror(errno) << '\n';
  std::exit(1);
}

void write_kernel_value(const std::string& name, const std::string& value) {
  std::ofstream file("/proc/sys/kernel/" + name);
  file << value << '\n';
  if (!file.flush()) fail("cannot write /proc/sys/kernel/" + name);
}

// A fresh namespace holding exactly `population`; the previous one vanishes with its objects.
void enter_populated_namespace(const Population& population) {
  if (::unshare(CLONE_NEWIPC) != 0) fail("unshare(CLONE_NEWIPC) (run as root)");
  write_kernel_value("sem", "32000 1024000000 500 32000");
  write_kernel_value("msgmni", "32000");
  write_kernel_value("shmmni", "4096");
  for (int i = 0; i < population.semaphore_arrays; ++i) {
    if (::semget(IPC_PRIVATE, 1 + i % 4, IPC_CREAT | 0600) < 0) fail("semget");
  }
  struct {
    long type = 1;
    char text[16] = "pending-message";
  } message;
  for (int i = 0; i < population.queues; ++i) {
    int msqid = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (msqid < 0) fail("msgget");
    if (i % 3 == 0 && ::msgsnd(msqid, &message, sizeof message.text, IPC_NOWAIT) != 0) {
      fail("msgsnd");
    }
  }
  for (int i = 0; i < population.segments; ++i) {
    if (::shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600) < 0) fail("shmget");
  }
}

void BM_ipctrail_collect(benchmark::State& state) {
  ipctrail::Collector collector({});
  ipctrail::Sample sample;
  for (auto _ : state) {
    collector.collect(sample);
    benchmark::DoNotOptimize(sample);
  }
}

// The floor: the same kernel work (both tables and SEM_INFO) with nothing done to the text.
void BM_floor_read_loop(benchmark::State& state) {
  std::vector<char> buffer(256 * 1024);
  std::size_t total = 0;
  for (auto _ : state) {
    for (const char* path : {"/proc/sysvipc/msg", "/proc/sysvipc/shm"}) {
      int fd = ::open(path, O_RDONLY | O_CLOEXEC);
      ssize_t got = 0;
      while ((got = ::read(fd, buffer.data(), buffer.size())) > 0) total += got;
      ::close(fd);
    }
    seminfo info{};
    ::semctl(0, 0, SEM_INFO, &info);
    benchmark::DoNotOptimize(info);
  }
  benchmark::DoNotOptimize(total);
}

void BM_ipcs_all(benchmark::State& state) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  char program[] = "ipcs";
  char all[] = "-a";
  char* argv[] = {program, all, nullptr};
  for (auto _ : state) {
    pid_t pid = 0;
    if (posix_spawnp(&pid, "ipcs", &actions, nullptr, argv, environ) != 0) {
      state.SkipWithError("cannot run ipcs");
      break;
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  posix_spawn_file_actions_destroy(&actions);
}

// Keeps each run's time per iteration so the side-by-side table can be printed at the end.
class RecordingReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> seconds_per_cycle;

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration || run.error_occurred) continue;
      seconds_per_cycle[run.benchmark_name()] =
          run.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(run.time_unit);
    }
  }
};

std::string time_text(double seconds) {
  char text[32];
  if (seconds < 1e-3) {
    std::snprintf(text, sizeof text, "%.1f us", seconds * 1e6);
  } else {
    std::snprintf(text, sizeof text, "%.2f ms", seconds * 1e3);
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const std::vector<Population> populations = {
      {"empty", 0, 0, 0},
      {"50 objects", 20, 20, 10},
      {"10,000 objects", 4000, 4000, 2000},
      {"maximum", 32000, 32000, 4096},
  };
  struct Row {
    std::string name;
    double collect, floor, ipcs;
  };
  std::vector<Row> rows;
  for (const Population& population : populations) {
    std::cout << "\n== " << population.name << ": " << population.semaphore_arrays
              << " semaphore arrays, " << population.queues << " queues, " << population.segments
              << " segments\n";
    enter_populated_namespace(population);
    benchmark::ClearRegisteredBenchmarks();
    benchmark::RegisterBenchmark("ipctrail_collect", BM_ipctrail_collect)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark("floor_read_loop", BM_floor_read_loop)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark("ipcs_all", BM_ipcs_all)->Unit(benchmark::kMicrosecond);
    RecordingReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    rows.push_back({population.name, reporter.seconds_per_cycle["ipctrail_collect"],
                    reporter.seconds_per_cycle["floor_read_loop"],
                    reporter.seconds_per_cycle["ipcs_all"]});
  }

  std::printf("\n%-16s %12s %12s %12s %14s %14s\n", "namespace", "ipctrail", "floor", "ipcs -a",
              "ipctrail/floor", "ipcs/ipctrail");
  for (const Row& row : rows) {
    std::printf("%-16s %12s %12s %12s %13.2fx %13.1fx\n", row.name.c_str(),
                time_text(row.collect).c_str(), time_text(row.floor).c_str(),
                time_text(row.ipcs).c_str(), row.collect / row.floor, row.ipcs / row.collect);
  }
  std::printf(
      "\ntargets: at the maximum ipctrail/floor <= 1.25x and ipcs/ipctrail >= 5x; "
      "at 50 objects ipctrail < 100 us per cycle\n");
  return 0;
}
