// objects_bench: what the IPC object inventory (issue 12) costs, beside its references, in one run.
//
//   1. Collection at the namespace maximum (32,000 arrays, 32,000 queues, 4,096 segments, root):
//      the agent's collection with the inventory (every object, queue capacities, leak rules)
//      beside the floor (a plain read loop of the three /proc/sysvipc files and SEM_INFO) and
//      `ipcs -a`. Then whole ticks there, collection and history write, for the p99.
//      Targets: inventory/floor <= 1.25x, ipcs/inventory >= 5x, tick write p99 <= 20 ms (the
//      issue's figure is the write; the whole tick, about 90 ms of collection at the maximum
//      included, is printed beside it).
//   2. Storage, simulated ticks of 1 s: the same host (32,000 queues' series and the limits) with
//      and without the inventory of 68,096 objects, first with nothing changing (the issue's
//      figure), then with `--busy` queues moving every tick (a changed queue writes a state row of
//      its object beside its two series points: the bytes per change are printed).
//      Target: with nothing changing, the inventory adds <= 10% to the growth. Tick write p99 at
//      the maximum <= 20 ms.
//   3. `ipctrail objects --at` (the real binary) on that day-long file: < 1 s. Without section 2
//      it writes only that file (with the inventory, `--busy` queues moving).
//   4. Churn: 1,000 objects created and removed every second: <= 100 bytes per lifecycle event,
//      indexes included.
//
//   objects_bench [--day-ticks N] [--busy N] [--churn-ticks N] [--kernel-ticks N] [--dir PATH]
//                 [--sections 1234]   (which of the above to run; all by default)
//                 [--keep 1]          (leave the history files in --dir, to look at them after)
//                 [--reuse 1]         (section 3 on the day file a --keep run left, as it is)
#include <SQLiteCpp/Database.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sched.h>
#include <spawn.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "agent/collect/collector.h"
#include "agent/daemon/history_charts.h"
#include "bench/bench_support.h"
#include "model/time_text.h"
#include "storage/store.h"
#include "tests/support/checkpointed_size.h"

extern char** environ;

namespace ipctrail {
namespace {

namespace fs = std::filesystem;
using Clock = bench::Clock;

constexpr int kArrays = 32000;
constexpr int kQueues = 32000;
constexpr int kSegments = 4096;
constexpr std::int64_t kStartMs = 1'795'000'000'000;  // 2026-11-19
constexpr std::int64_t kIntervalMs = 1000;

using bench::cpu_ms;
using bench::load_average;
using bench::ms_since;
using bench::percentile;
using testing::checkpointed_size;

std::string verdict(bool met) {
  return met ? "met" : "MISSED";
}

void fail(const std::string& what) {
  fmt::print(stderr, "objects_bench: {}: {}\n", what, std::strerror(errno));
  std::exit(1);
}

// ---- 1. The kernel at the namespace maximum ----

void write_kernel_value(const std::string& name, const std::string& value) {
  std::ofstream file("/proc/sys/kernel/" + name);
  file << value << '\n';
  if (!file.flush()) fail("cannot write /proc/sys/kernel/" + name);
}

void enter_full_namespace() {
  if (::unshare(CLONE_NEWIPC) != 0) fail("unshare(CLONE_NEWIPC) (run as root)");
  write_kernel_value("sem", "32000 1024000000 500 32000");
  write_kernel_value("msgmni", "32000");
  write_kernel_value("shmmni", "4096");
  for (int i = 0; i < kArrays; ++i) {
    if (::semget(IPC_PRIVATE, 1 + i % 4, IPC_CREAT | 0600) < 0) fail("semget");
  }
  struct {
    long type = 1;
    char text[16] = "pending-message";
  } message;
  for (int i = 0; i < kQueues; ++i) {
    int msqid = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (msqid < 0) fail("msgget");
    if (i % 3 == 0 && ::msgsnd(msqid, &message, sizeof message.text, IPC_NOWAIT) != 0) {
      fail("msgsnd");
    }
  }
  for (int i = 0; i < kSegments; ++i) {
    if (::shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600) < 0) fail("shmget");
  }
}

// The floor: the three tables read with nothing done to the text, and SEM_INFO.
std::size_t read_loop(std::vector<char>& buffer) {
  std::size_t total = 0;
  for (const char* path : {"/proc/sysvipc/sem", "/proc/sysvipc/msg", "/proc/sysvipc/shm"}) {
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(path);
    ssize_t got = 0;
    while ((got = ::read(fd, buffer.data(), buffer.size())) > 0) total += static_cast<size_t>(got);
    ::close(fd);
  }
  seminfo info{};
  ::semctl(0, 0, SEM_INFO, &info);
  return total + static_cast<std::size_t>(info.semusz);
}

void run_ipcs() {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  char program[] = "ipcs";
  char all[] = "-a";
  char* argv[] = {program, all, nullptr};
  pid_t pid = 0;
  if (posix_spawnp(&pid, "ipcs", &actions, nullptr, argv, environ) != 0) fail("cannot run ipcs");
  ::waitpid(pid, nullptr, 0);
  posix_spawn_file_actions_destroy(&actions);
}

void kernel_section(const fs::path& dir, int rounds, int ticks) {
  fmt::print("== 1. collection at the namespace maximum: {} arrays, {} queues, {} segments\n",
             kArrays, kQueues, kSegments);
  fmt::print("  load average at the start: {}\n", load_average());
  enter_full_namespace();
  CollectorOptions options;  // as the agent runs it (agent/cli/cmd_agent.cpp)
  options.inventory = true;
  Collector collector(options);
  Sample sample;
  auto first = Clock::now();
  collector.collect(sample);  // reads every queue's msg_qbytes once
  double first_ms = ms_since(first);
  // The worst case of the leak rules: every object past min_age, every idle array a suspect.
  CollectorOptions all_idle_options = options;
  all_idle_options.leaks.min_age = std::chrono::milliseconds(0);
  Collector all_idle(all_idle_options);
  Sample all_idle_sample;
  all_idle.collect(all_idle_sample);
  std::vector<char> buffer(256 * 1024);
  std::vector<double> inventory, idle, floor, ipcs, inventory_cpu, floor_cpu;
  std::size_t sink = 0;
  // Round-robin, so that a load spike on the shared machine hits all three alike.
  for (int round = 0; round < rounds; ++round) {
    auto started = Clock::now();
    double cpu_before = cpu_ms();
    collector.collect(sample);
    inventory_cpu.push_back(cpu_ms() - cpu_before);
    inventory.push_back(ms_since(started));
    started = Clock::now();
    all_idle.collect(all_idle_sample);
    idle.push_back(ms_since(started));
    started = Clock::now();
    cpu_before = cpu_ms();
    sink += read_loop(buffer);
    floor_cpu.push_back(cpu_ms() - cpu_before);
    floor.push_back(ms_since(started));
    if (round % 4 == 0) {
      started = Clock::now();
      run_ipcs();
      ipcs.push_back(ms_since(started));
    }
  }
  std::size_t objects = sample.objects.semaphores->size() + sample.objects.queues->size() +
                        sample.objects.segments->size();
  double median_inventory = percentile(inventory, 0.5);
  double median_floor = percentile(floor, 0.5);
  double median_ipcs = percentile(ipcs, 0.5);
  fmt::print("  objects collected: {} (read loop saw {} bytes in all)\n", objects, sink);
  fmt::print("  first collection (every msg_qbytes read): {:.1f} ms\n", first_ms);
  fmt::print("  {:<34} {:>10} {:>10} {:>10}\n", "median of " + std::to_string(rounds) + " rounds",
             "inventory", "floor", "ipcs -a");
  fmt::print("  {:<34} {:>7.2f} ms {:>7.2f} ms {:>7.2f} ms\n", "one collection", median_inventory,
             median_floor, median_ipcs);
  // Each round's own ratio too: the two ran back to back, so a load spike moves both.
  std::vector<double> paired, paired_cpu;
  for (std::size_t i = 0; i < inventory.size(); ++i) {
    paired.push_back(inventory[i] / floor[i]);
    paired_cpu.push_back(inventory_cpu[i] / floor_cpu[i]);
  }
  fmt::print("  {:<34} {:>7.2f} ms {:>7.2f} ms\n", "one collection, CPU (user + system)",
             percentile(inventory_cpu, 0.5), percentile(floor_cpu, 0.5));
  fmt::print("  median of the rounds' inventory/floor: {:.2f}x wall, {:.2f}x CPU\n",
             percentile(paired, 0.5), percentile(paired_cpu, 0.5));
  fmt::print("  with every object past leaks.min_age ({} suspects): {:.2f} ms, {:.2f}x the floor\n",
             all_idle_sample.leak_suspects->size(), percentile(idle, 0.5),
             percentile(idle, 0.5) / median_floor);
  fmt::print(
      "  inventory/floor {:.2f}x (target <= 1.25x: {}), ipcs/inventory {:.1f}x (target >= "
      "5x: {})\n",
      median_inventory / median_floor, verdict(median_inventory / median_floor <= 1.25),
      median_ipcs / median_inventory, verdict(median_ipcs / median_inventory >= 5));

  // Whole ticks: collection, then the history write of that tick, as the agent does them.
  StoreOptions store_options;
  store_options.path = dir / "kernel.db";
  Store store(store_options);
  TickRecord tick;
  std::vector<double> tick_ms, write_ms;
  for (int i = 0; i < ticks; ++i) {
    auto started = Clock::now();
    collector.collect(sample);
    fill_tick_record(sample, kIntervalMs, tick);
    auto writing = Clock::now();
    store.write_tick(tick);
    write_ms.push_back(ms_since(writing));
    tick_ms.push_back(ms_since(started));
  }
  // The first tick writes every object and series once; the steady ticks follow it.
  fmt::print("  first tick write (every object new): {:.1f} ms\n", write_ms.front());
  tick_ms.erase(tick_ms.begin());
  write_ms.erase(write_ms.begin());
  fmt::print(
      "  {} steady ticks, ms p50/p99/max: whole tick {:.2f}/{:.2f}/{:.2f}, write "
      "{:.2f}/{:.2f}/{:.2f} (target write p99 <= 20 ms: {})\n\n",
      tick_ms.size(), percentile(tick_ms, 0.5), percentile(tick_ms, 0.99), percentile(tick_ms, 1.0),
      percentile(write_ms, 0.5), percentile(write_ms, 0.99), percentile(write_ms, 1.0),
      verdict(percentile(write_ms, 0.99) <= 20));
}

// ---- 2-4. Storage, simulated ----

IpcObject object_of(IpcKind kind, int id) {
  IpcObject object;
  object.kind = kind;
  object.id = id;
  object.key = 0x10000 + id;
  object.mode = 0600;
  object.uid = object.cuid = 1000;
  object.gid = object.cgid = 1000;
  object.ctime = kStartMs / 1000 - 3600;
  if (kind == IpcKind::kSemaphore) object.size = 1 + id % 4;
  if (kind == IpcKind::kSharedMemory) {
    object.size = 4096;
    object.cpid = 4242;
  }
  if (kind == IpcKind::kQueue) object.qbytes = 16384;
  return object;
}

// A host at the maximum: 32,000 queues (one series each in two charts), with or without the
// inventory of every object.
Sample full_host(bool inventory) {
  Sample sample;
  sample.semaphores = 80000;
  sample.semaphore_arrays = kArrays;
  sample.shm_segments = kSegments;
  sample.shm_bytes = kSegments * 4096ULL;
  sample.shm_pages = kSegments;
  sample.queues.emplace();
  for (int i = 0; i < kQueues; ++i) {
    sample.queues->push_back({.msqid = i, .key = 0x10000 + i, .uid = 1000, .capacity_bytes = {}});
  }
  sample.limits = {32000, 1024000000, 500, 32000, 32000, 16384, 8192, 4096, 1ULL << 40, 1ULL << 40};
  if (inventory) {
    sample.objects.semaphores.emplace();
    sample.objects.queues.emplace();
    sample.objects.segments.emplace();
    for (int i = 0; i < kArrays; ++i) {
      sample.objects.semaphores->push_back(object_of(IpcKind::kSemaphore, i));
    }
    for (int i = 0; i < kQueues; ++i) {
      sample.objects.queues->push_back(object_of(IpcKind::kQueue, i));
    }
    for (int i = 0; i < kSegments; ++i) {
      sample.objects.segments->push_back(object_of(IpcKind::kSharedMemory, i));
    }
    sample.leak_suspects.emplace();
  }
  return sample;
}

void remove_database(const fs::path& path) {
  for (const char* suffix : {"", "-wal", "-shm", ".lock"}) fs::remove(path.string() + suffix);
}

struct DayRun {
  std::uint64_t first_tick_bytes = 0;
  std::uint64_t growth_bytes = 0;
  std::vector<double> write_ms;
  std::vector<double> write_cpu_ms;  // this process's CPU: a loaded machine's waiting left out
};

// `ticks` ticks of 1 s; before each, `busy` queues (the first ones) take one more message or one
// less, in the charts and, with the inventory, in the objects.
DayRun run_day(const fs::path& path, bool inventory, int ticks, int busy) {
  remove_database(path);
  Sample sample = full_host(inventory);
  TickRecord tick;
  DayRun run;
  StoreOptions options;
  options.path = path;
  Store store(options);
  sample.ts_ms = kStartMs;
  fill_tick_record(sample, kIntervalMs, tick);
  store.write_tick(tick);
  run.first_tick_bytes = checkpointed_size(path);
  for (int i = 1; i <= ticks; ++i) {
    sample.ts_ms = kStartMs + i * kIntervalMs;
    for (int q = 0; q < busy && q < kQueues; ++q) {
      std::uint64_t messages = static_cast<std::uint64_t>((i + q) % 2);
      (*sample.queues)[static_cast<std::size_t>(q)].messages = messages;
      (*sample.queues)[static_cast<std::size_t>(q)].bytes = messages * 100;
      if (inventory) {
        IpcObject& object = (*sample.objects.queues)[static_cast<std::size_t>(q)];
        object.qnum = messages;
        object.cbytes = messages * 100;
      }
    }
    fill_tick_record(sample, kIntervalMs, tick);
    auto started = Clock::now();
    double cpu_before = cpu_ms();
    store.write_tick(tick);
    run.write_cpu_ms.push_back(cpu_ms() - cpu_before);
    run.write_ms.push_back(ms_since(started));
  }
  run.growth_bytes = checkpointed_size(path) - run.first_tick_bytes;
  return run;
}

// Every tick 500 arrays and 500 segments are created and the previous tick's are removed: 1,000
// objects made and 1,000 removed a second. Whole-system charts only, so the growth is the objects'.
void churn_section(const fs::path& dir, int ticks) {
  fmt::print("== 4. churn: 1,000 objects created and 1,000 removed every second, {} ticks\n",
             ticks);
  fs::path path = dir / "churn.db";
  remove_database(path);
  StoreOptions options;
  options.path = path;
  Sample sample = full_host(false);
  sample.queues->clear();
  sample.objects.queues.emplace();
  sample.leak_suspects.emplace();
  TickRecord tick;
  std::uint64_t baseline = 0;
  std::vector<double> write_ms;
  {
    Store store(options);
    int next_id = 0;
    auto refill = [&] {
      sample.objects.semaphores.emplace();
      sample.objects.segments.emplace();
      for (int i = 0; i < 500; ++i) {
        sample.objects.semaphores->push_back(object_of(IpcKind::kSemaphore, next_id));
        sample.objects.segments->push_back(object_of(IpcKind::kSharedMemory, next_id++));
      }
      for (IpcObject& object : *sample.objects.semaphores) object.ctime = sample.ts_ms / 1000;
      for (IpcObject& object : *sample.objects.segments) object.ctime = sample.ts_ms / 1000;
    };
    sample.ts_ms = kStartMs;
    refill();
    fill_tick_record(sample, kIntervalMs, tick);
    store.write_tick(tick);
    baseline = checkpointed_size(path);
    for (int i = 1; i <= ticks; ++i) {
      sample.ts_ms = kStartMs + i * kIntervalMs;
      refill();
      fill_tick_record(sample, kIntervalMs, tick);
      auto started = Clock::now();
      store.write_tick(tick);
      write_ms.push_back(ms_since(started));
    }
  }
  std::uint64_t growth = checkpointed_size(path) - baseline;
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  std::int64_t events =
      db.execAndGet(
            "SELECT count(*) FROM object_events WHERE event IN ('created', 'removed') "
            "AND ts > " +
            std::to_string(kStartMs))
          .getInt64();
  double per_event = static_cast<double>(growth) / static_cast<double>(events);
  fmt::print(
      "  file growth {:.1f} MiB for {} lifecycle events: {:.1f} bytes per event, indexes "
      "included (target <= 100: {})\n",
      growth / 1048576.0, events, per_event, verdict(per_event <= 100));
  for (const char* table :
       {"ipc_objects", "ipc_objects_removed", "ipc_objects_live", "ipc_object_states",
        "ipc_object_events", "ipc_object_events_by_object"}) {
    try {
      std::int64_t bytes =
          db.execAndGet(fmt::format("SELECT sum(pgsize) FROM dbstat WHERE name = '{}'", table))
              .getInt64();
      fmt::print("    {:<30} {:>8.1f} bytes per event\n", table,
                 static_cast<double>(bytes) / static_cast<double>(events));
    } catch (const SQLite::Exception&) {
      break;  // an SQLite without the dbstat table
    }
  }
  fmt::print("  tick write ms p50/p99/max: {:.2f}/{:.2f}/{:.2f}\n\n", percentile(write_ms, 0.5),
             percentile(write_ms, 0.99), percentile(write_ms, 1.0));
}

// Wall and CPU time (user + system) of one run of the real binary, output to /dev/null.
struct BinaryRun {
  double wall_ms = 0;
  double cpu_ms = 0;
};

BinaryRun run_binary(const std::vector<std::string>& arguments) {
  std::vector<char*> argv;
  std::vector<std::string> copy = arguments;
  for (std::string& argument : copy) argv.push_back(argument.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  auto started = Clock::now();
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) {
    fail("cannot run " + arguments[0]);
  }
  int status = 0;
  rusage usage{};
  ::wait4(pid, &status, 0, &usage);
  BinaryRun run{.wall_ms = ms_since(started), .cpu_ms = 0};
  for (const timeval& time : {usage.ru_utime, usage.ru_stime}) {
    run.cpu_ms +=
        static_cast<double>(time.tv_sec) * 1000 + static_cast<double>(time.tv_usec) / 1000;
  }
  posix_spawn_file_actions_destroy(&actions);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("ipctrail objects failed");
  return run;
}

void print_slow_ticks(const char* name, const DayRun& run) {
  std::vector<std::size_t> slow;
  for (std::size_t i = 0; i < run.write_ms.size(); ++i) {
    if (run.write_ms[i] > 20) slow.push_back(i + 1);
  }
  fmt::print(
      "  ticks over 20 ms {}: {}{}\n", name, slow.size(),
      slow.empty()
          ? ""
          : fmt::format(" (the first at ticks {})",
                        fmt::join(slow.begin(),
                                  slow.begin() + std::min<std::size_t>(slow.size(), 12), ", ")));
}

// One host with and without the inventory, `busy` queues moving every tick; the files are
// `<name>-series-only.db` and `<name>-with-objects.db`.
struct DayPair {
  DayRun without;
  DayRun with;
};

DayPair compare_day(const fs::path& dir, const std::string& name, int ticks, int busy) {
  fmt::print("  -- {} queues moving every tick\n", busy);
  DayPair pair{run_day(dir / (name + "-series-only.db"), false, ticks, busy),
               run_day(dir / (name + "-with-objects.db"), true, ticks, busy)};
  const DayRun& without = pair.without;
  const DayRun& with = pair.with;
  double day = 86400.0 / ticks;
  fmt::print("  {:<44} {:>14} {:>14}\n", "", "series only", "+ 68,096 objs");
  fmt::print("  {:<44} {:>10.2f} MiB {:>10.2f} MiB\n", "file after the first tick",
             without.first_tick_bytes / 1048576.0, with.first_tick_bytes / 1048576.0);
  fmt::print("  {:<44} {:>10.2f} MiB {:>10.2f} MiB\n", "growth per day after it",
             without.growth_bytes * day / 1048576.0, with.growth_bytes * day / 1048576.0);
  fmt::print(
      "  tick write ms p50/p99/max: {:.2f}/{:.2f}/{:.2f} series only, {:.2f}/{:.2f}/{:.2f} "
      "with the inventory (target p99 <= 20 ms: {})\n",
      percentile(without.write_ms, 0.5), percentile(without.write_ms, 0.99),
      percentile(without.write_ms, 1.0), percentile(with.write_ms, 0.5),
      percentile(with.write_ms, 0.99), percentile(with.write_ms, 1.0),
      verdict(percentile(with.write_ms, 0.99) <= 20));
  fmt::print(
      "  tick write CPU ms p50/p99/max: {:.2f}/{:.2f}/{:.2f} series only, {:.2f}/{:.2f}/{:.2f} "
      "with the inventory\n",
      percentile(without.write_cpu_ms, 0.5), percentile(without.write_cpu_ms, 0.99),
      percentile(without.write_cpu_ms, 1.0), percentile(with.write_cpu_ms, 0.5),
      percentile(with.write_cpu_ms, 0.99), percentile(with.write_cpu_ms, 1.0));
  print_slow_ticks("series only", without);
  print_slow_ticks("with the inventory", with);
  return pair;
}

double growth_ratio(const DayPair& pair) {
  return static_cast<double>(pair.with.growth_bytes) /
         static_cast<double>(pair.without.growth_bytes);
}

void storage_section(const fs::path& dir, int ticks, int busy) {
  fmt::print("== 2. storage: 32,000 queues' series and the limits, {} ticks of 1 s\n", ticks);
  DayPair steady = compare_day(dir, "steady", ticks, 0);
  fmt::print(
      "  with nothing changing the inventory adds {:+.1f}% to the growth (target <= 10%: {})\n\n",
      (growth_ratio(steady) - 1) * 100, verdict(growth_ratio(steady) <= 1.10));
  if (busy > 0) {
    DayPair moving = compare_day(dir, "busy", ticks, busy);
    // Each moving queue changes its messages and bytes: two series points, and with the
    // inventory one state row of the object (the moving fields as a whole row).
    double changes = static_cast<double>(ticks) * busy;
    auto per_change = [&](std::uint64_t grown, std::uint64_t steady_grown) {
      return (static_cast<double>(grown) - static_cast<double>(steady_grown)) / changes;
    };
    double series_bytes = per_change(moving.without.growth_bytes, steady.without.growth_bytes);
    double with_bytes = per_change(moving.with.growth_bytes, steady.with.growth_bytes);
    fmt::print(
        "  with {} queues moving the inventory adds {:+.1f}% to the growth: a queue's change costs "
        "{:.1f} bytes in its two series and {:.1f} more in its object's state row\n\n",
        busy, (growth_ratio(moving) - 1) * 100, series_bytes, with_bytes - series_bytes);
  }
}

// The file section 2 wrote last: the day with the inventory (and `busy` queues moving).
fs::path day_file(const fs::path& dir, int busy) {
  return dir / (busy > 0 ? "busy-with-objects.db" : "steady-with-objects.db");
}

// Without section 2, only the file queried here is written (a day of ticks at the maximum takes
// a quarter of an hour of CPU), or an existing one is taken as it is (`--reuse 1`).
void objects_at_section(const fs::path& dir, int ticks, int busy, bool written, bool reuse) {
  fs::path path = day_file(dir, busy);
  if (!written && !(reuse && fs::exists(path))) {
    fmt::print("== 3. writing {} ticks of 1 s with the inventory, {} queues moving\n", ticks, busy);
    auto started = Clock::now();
    double cpu_before = cpu_ms();
    DayRun run = run_day(path, true, ticks, busy);
    fmt::print("  {:.0f} s ({:.0f} s CPU), tick write ms p50/p99: {:.2f}/{:.2f}\n",
               ms_since(started) / 1000, (cpu_ms() - cpu_before) / 1000,
               percentile(run.write_ms, 0.5), percentile(run.write_ms, 0.99));
  }
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  fmt::print(
      "== 3. ipctrail objects --at on {} ({:.2f} days long, {:.1f} MiB): {} objects, {} object "
      "states, {} series points\n",
      path.string(), ticks / 86400.0, fs::file_size(path) / 1048576.0,
      db.execAndGet("SELECT count(*) FROM ipc_objects").getInt64(),
      db.execAndGet("SELECT count(*) FROM ipc_object_states").getInt64(),
      db.execAndGet("SELECT count(*) FROM points").getInt64());
  for (std::int64_t at : {kStartMs + ticks * kIntervalMs / 2, kStartMs + ticks * kIntervalMs}) {
    std::vector<double> runs, cpu;
    for (int i = 0; i < 3; ++i) {
      BinaryRun run =
          run_binary({IPCTRAIL_BINARY, "objects", "--db", path.string(), "--at", iso8601_utc(at)});
      runs.push_back(run.wall_ms);
      cpu.push_back(run.cpu_ms);
    }
    BinaryRun json = run_binary({IPCTRAIL_BINARY, "objects", "--db", path.string(), "--at",
                                 iso8601_utc(at), "--format", "json"});
    fmt::print(
        "  --at {}: table median {:.0f} ms ({:.0f} ms CPU), json {:.0f} ms ({:.0f} ms CPU) "
        "(target < 1000 ms: {})\n",
        iso8601_utc(at), percentile(runs, 0.5), percentile(cpu, 0.5), json.wall_ms, json.cpu_ms,
        verdict(std::max(percentile(runs, 0.5), json.wall_ms) < 1000));
  }
  fmt::print("\n");
}

}  // namespace
}  // namespace ipctrail

int main(int argc, char** argv) {
  using namespace ipctrail;
  int day_ticks = 86400;
  int busy = 100;
  int churn_ticks = 600;
  int kernel_rounds = 21;
  int kernel_ticks = 200;
  std::string sections = "1234";
  bool keep = false;
  bool reuse = false;
  fs::path dir = fs::temp_directory_path() / "ipctrail-objects-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--day-ticks") day_ticks = std::atoi(argv[i + 1]);
    if (flag == "--busy") busy = std::atoi(argv[i + 1]);
    if (flag == "--churn-ticks") churn_ticks = std::atoi(argv[i + 1]);
    if (flag == "--kernel-ticks") kernel_ticks = std::atoi(argv[i + 1]);
    if (flag == "--dir") dir = argv[i + 1];
    if (flag == "--sections") sections = argv[i + 1];
    if (flag == "--keep") keep = std::string(argv[i + 1]) == "1";
    if (flag == "--reuse") reuse = keep = std::string(argv[i + 1]) == "1";
  }
  auto wanted = [&sections](char section) { return sections.find(section) != std::string::npos; };
  if (!reuse) fs::remove_all(dir);
  fs::create_directories(dir);
  if (wanted('1')) kernel_section(dir, kernel_rounds, kernel_ticks);
  if (wanted('4')) churn_section(dir, churn_ticks);
  if (wanted('2')) storage_section(dir, day_ticks, busy);
  if (wanted('3')) objects_at_section(dir, day_ticks, busy, wanted('2'), reuse);
  if (!keep) fs::remove_all(dir);
  return 0;
}
