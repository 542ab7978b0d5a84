// Who made the IPC calls (docs/design.md §6), against the real kernel with the real programs
// attached: per-process counts with their exact failures, the creator and the remover of each
// object through the lifecycle ring buffer, the cgroup of the caller, the bounds (a full map and
// a full ring buffer are counted), and exactness while the counts are read and deleted under a
// busy caller. The calls to attribute come from child processes: the test process is the agent.
#include <sched.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <new>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bpf/ipc_call_collector.h"
#include "bpf/ipc_call_counter.h"
#include "model/time_parse.h"
#include "tests/support/agent_process.h"
#include "tests/support/child_process.h"
#include "tests/support/ipc_namespace.h"

namespace ipctrail {

void PrintTo(BpfMode mode, std::ostream* out) {
  *out << to_string(mode);
}

namespace {

using testing::in_child;

std::uint32_t own_ipc_namespace() {
  struct stat status {};
  EXPECT_EQ(::stat("/proc/self/ns/ipc", &status), 0);
  return static_cast<std::uint32_t>(status.st_ino);
}

// The cgroup2 mount point, from /proc/self/mountinfo (field 5 is the mount point; the filesystem
// type follows the " - " separator). Hybrid hosts mount it at /sys/fs/cgroup/unified.
std::optional<std::string> cgroup2_mount() {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mountinfo, line)) {
    std::size_t separator = line.find(" - ");
    if (separator == std::string::npos || line.compare(separator + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream fields(line);
    std::string skip, mount_point;
    fields >> skip >> skip >> skip >> skip >> mount_point;
    return mount_point;
  }
  return std::nullopt;
}

std::uint64_t inode_of(const std::string& path) {
  struct stat status {};
  EXPECT_EQ(::stat(path.c_str(), &status), 0) << path << ": " << std::strerror(errno);
  return status.st_ino;
}

// This process's cgroup v2 directory ("0::/path" in /proc/self/cgroup).
std::string own_cgroup_directory(const std::string& mount) {
  std::ifstream cgroups("/proc/self/cgroup");
  std::string line;
  while (std::getline(cgroups, line)) {
    if (line.starts_with("0::")) return mount + line.substr(3);
  }
  return mount;
}

// What several readings gave, put together.
struct Readings {
  std::vector<ProcessCallCount> calls;
  std::vector<LifecycleEvent> events;
  std::uint64_t calls_not_attributed = 0;
  std::uint64_t events_lost = 0;

  void add(ProcessActivity activity) {
    calls.insert(calls.end(), activity.calls.begin(), activity.calls.end());
    events.insert(events.end(), activity.events.begin(), activity.events.end());
    calls_not_attributed = activity.calls_not_attributed;
    events_lost = activity.events_lost;
  }

  // Calls of `tgid` to `call` with `error` (nullopt: successes) over every reading.
  std::uint64_t count(pid_t tgid, IpcCall call, std::optional<ErrnoClass> error) const {
    std::uint64_t total = 0;
    for (const ProcessCallCount& counted : calls) {
      if (counted.process.tgid == tgid && counted.call == call && counted.error == error) {
        total += counted.count;
      }
    }
    return total;
  }

  std::vector<LifecycleEvent> events_of(pid_t tgid, LifecycleAction action) const {
    std::vector<LifecycleEvent> found;
    for (const LifecycleEvent& event : events) {
      if (event.process.tgid == tgid && event.action == action) found.push_back(event);
    }
    return found;
  }
};

class ProcessAttribution : public testing::IpcNamespaceTest,
                           public ::testing::WithParamInterface<BpfMode> {
 protected:
  // Attaches in the test's mode (after SetUp moved the process into its own namespace); null
  // with skipped_reason_ set when the kernel's policy refuses fentry or the kernel has no kprobes.
  std::unique_ptr<IpcCallCounter> attach(IpcCallCounterOptions options = {}) {
    options.mode = GetParam();
    IpcCallCounterOpening opening = IpcCallCounter::open(options);
    if (!opening.counter && GetParam() != BpfMode::kTracepoint &&
        (opening.failure.find("refused by the kernel") != std::string::npos ||
         opening.failure.find("this kernel has no kprobes") != std::string::npos)) {
      skipped_reason_ = opening.failure;
    }
    EXPECT_TRUE(opening.counter || !skipped_reason_.empty()) << opening.failure;
    EXPECT_TRUE(!opening.counter || opening.counter->tracks_processes());
    return std::move(opening.counter);
  }
  std::string skipped_reason_;
};

#define ATTACH_OR_SKIP(counter, ...)                                              \
  auto counter = attach(__VA_ARGS__);                                             \
  if (!counter && !skipped_reason_.empty())                                       \
    GTEST_SKIP() << to_string(GetParam()) << " unavailable: " << skipped_reason_; \
  ASSERT_TRUE(counter)

// The Apache incident: a process leaks one-semaphore arrays until semget fails with ENOSPC. Its
// pid and comm carry the exact number of failures, and each array's creation event names it.
TEST_P(ProcessAttribution, LeakerCarriesItsExactFailuresAndCreatedEachArray) {
  ATTACH_OR_SKIP(counter);
  set_kernel_value("sem", "250 32000 32 4");
  constexpr int kFailures = 24;
  int ids[2];
  ASSERT_EQ(::pipe(ids), 0);
  std::int64_t before = unix_now_ms();
  pid_t leaker = in_child(
      [&] {
        int created = 0;
        int failed = 0;
        while (failed < kFailures) {
          int id = ::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
          if (id >= 0) {
            ++created;
            ASSERT_EQ(::write(ids[1], &id, sizeof id), static_cast<ssize_t>(sizeof id));
          } else {
            ASSERT_EQ(errno, ENOSPC) << std::strerror(errno);
            ++failed;
          }
        }
        ASSERT_EQ(created, 4);
      },
      "leaker");
  std::int64_t after = unix_now_ms();
  ::close(ids[1]);
  std::vector<int> created_ids(4);
  ASSERT_EQ(::read(ids[0], created_ids.data(), 4 * sizeof(int)), 4 * sizeof(int));
  ::close(ids[0]);

  Readings readings;
  readings.add(counter->read_processes());
  EXPECT_EQ(readings.count(leaker, IpcCall::kSemget, ErrnoClass::kENOSPC), kFailures);
  EXPECT_EQ(readings.count(leaker, IpcCall::kSemget, std::nullopt), 4u);
  ASSERT_EQ(readings.calls.size(), 2u) << "only the leaker's two outcomes of semget";
  for (const ProcessCallCount& counted : readings.calls) {
    EXPECT_EQ(counted.process.comm, "leaker");
    EXPECT_EQ(counted.process.ipc_namespace, own_ipc_namespace());
  }
  EXPECT_EQ(readings.calls_not_attributed, 0u);

  std::vector<LifecycleEvent> created = readings.events_of(leaker, LifecycleAction::kCreated);
  ASSERT_EQ(readings.events.size(), 4u) << "failed semgets never reach the ring buffer";
  ASSERT_EQ(created.size(), 4u);
  for (std::size_t i = 0; i < created.size(); ++i) {
    const LifecycleEvent& event = created[i];
    EXPECT_EQ(event.id, created_ids[i]) << "oldest first";
    EXPECT_EQ(event.kind, IpcKind::kSemaphore);
    EXPECT_EQ(event.key, IPC_PRIVATE);
    EXPECT_EQ(event.flags, static_cast<std::uint32_t>(IPC_CREAT | 0600));
    EXPECT_EQ(event.process.comm, "leaker");
    EXPECT_EQ(event.tid, leaker);
    EXPECT_EQ(event.uid, ::getuid());
    EXPECT_EQ(event.process.ipc_namespace, own_ipc_namespace());
    EXPECT_EQ(event.process.cgroup_id, readings.calls.front().process.cgroup_id);
    EXPECT_GE(event.ts_ms, before - 1);
    EXPECT_LE(event.ts_ms, after + 1);
  }
  EXPECT_EQ(readings.events_lost, 0u);

  ProcessActivity idle = counter->read_processes();
  EXPECT_TRUE(idle.calls.empty() && idle.events.empty()) << "each count is given once";
}

// systemd-logind's RemoveIPC: another process removes the first one's objects. Each removal
// event names the remover, never the creator.
TEST_P(ProcessAttribution, RemovalEventsNameTheRemover) {
  ATTACH_OR_SKIP(counter);
  int ids[2];
  ASSERT_EQ(::pipe(ids), 0);
  pid_t creator = in_child(
      [&] {
        int created[] = {create_semaphore_array(1), create_semaphore_array(2), create_queue(),
                         create_segment(4096)};
        ASSERT_EQ(::write(ids[1], created, sizeof created), static_cast<ssize_t>(sizeof created));
      },
      "creator");
  int created[4];
  ASSERT_EQ(::read(ids[0], created, sizeof created), static_cast<ssize_t>(sizeof created));
  ::close(ids[0]);
  ::close(ids[1]);
  pid_t remover = in_child(
      [&] {
        remove_semaphore_array(created[0]);
        remove_semaphore_array(created[1]);
        remove_queue(created[2]);
        remove_segment(created[3]);
        // Neither a failed removal nor another command is a removal.
        EXPECT_EQ(::semctl(created[0], 0, IPC_RMID), -1);
        semid_ds status{};
        EXPECT_EQ(::semctl(created[1], 0, IPC_STAT, &status), -1);
      },
      "remover");

  Readings readings;
  readings.add(counter->read_processes());
  std::vector<LifecycleEvent> removed = readings.events_of(remover, LifecycleAction::kRemoved);
  ASSERT_EQ(removed.size(), 4u);
  IpcKind kinds[] = {IpcKind::kSemaphore, IpcKind::kSemaphore, IpcKind::kQueue,
                     IpcKind::kSharedMemory};
  for (std::size_t i = 0; i < removed.size(); ++i) {
    EXPECT_EQ(removed[i].id, created[i]);
    EXPECT_EQ(removed[i].kind, kinds[i]);
    EXPECT_EQ(removed[i].process.comm, "remover");
    EXPECT_EQ(removed[i].tid, remover);
    EXPECT_FALSE(removed[i].key);
  }
  EXPECT_TRUE(readings.events_of(creator, LifecycleAction::kRemoved).empty());
  std::vector<LifecycleEvent> made = readings.events_of(creator, LifecycleAction::kCreated);
  ASSERT_EQ(made.size(), 4u);
  EXPECT_EQ(made[2].kind, IpcKind::kQueue);
  EXPECT_EQ(made[3].kind, IpcKind::kSharedMemory);
  EXPECT_EQ(readings.events.size(), 8u);
  EXPECT_EQ(readings.count(remover, IpcCall::kSemctl, ErrnoClass::kEINVAL), 2u);
  EXPECT_EQ(readings.count(remover, IpcCall::kSemctl, std::nullopt), 2u);
  EXPECT_EQ(readings.count(remover, IpcCall::kShmctl, std::nullopt), 1u);
}

// A consumer stalled: the producer's msgsnd with IPC_NOWAIT fails with EAGAIN, counted exactly for
// its pid.
TEST_P(ProcessAttribution, ProducerOnAFullQueueCarriesItsEagainCount) {
  ATTACH_OR_SKIP(counter);
  set_kernel_value("msgmnb", "100");
  int msqid = create_queue();
  constexpr int kRefused = 13;
  pid_t producer = in_child(
      [&] {
        send_message(msqid, 100);
        std::vector<char> message(sizeof(long) + 10, 'x');
        *reinterpret_cast<long*>(message.data()) = 1;
        for (int i = 0; i < kRefused; ++i) {
          errno = 0;
          EXPECT_EQ(::msgsnd(msqid, message.data(), 10, IPC_NOWAIT), -1);
          EXPECT_EQ(errno, EAGAIN);
        }
      },
      "producer");
  Readings readings;
  readings.add(counter->read_processes());
  EXPECT_EQ(readings.count(producer, IpcCall::kMsgsnd, ErrnoClass::kEAGAIN), kRefused);
  EXPECT_EQ(readings.count(producer, IpcCall::kMsgsnd, std::nullopt), 1u);
  EXPECT_EQ(readings.calls.size(), 2u) << "the test's own msgget is not counted";
}

// A process in a cgroup of its own carries that cgroup's id, which is its directory's inode.
TEST_P(ProcessAttribution, CallerCarriesTheIdOfItsCgroup) {
  std::optional<std::string> mount = cgroup2_mount();
  IPCTRAIL_REQUIRE_PRIVILEGE(mount.has_value(), "no cgroup2 mount in /proc/self/mountinfo");
  ATTACH_OR_SKIP(counter);
  std::string directory = *mount + "/ipctrail-who-test-" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(directory.c_str(), 0755), 0) << directory << ": " << std::strerror(errno);
  std::uint64_t cgroup_id = inode_of(directory);
  pid_t child = in_child(
      [&] {
        std::ofstream(directory + "/cgroup.procs") << "0\n";  // moves the writer
        create_semaphore_array(1);
      },
      "in-cgroup");
  pid_t outside = in_child([] { create_semaphore_array(1); }, "outside");
  // The cgroup can be removed once its only process has been reaped.
  ASSERT_EQ(::rmdir(directory.c_str()), 0) << std::strerror(errno);

  Readings readings;
  readings.add(counter->read_processes());
  ASSERT_EQ(readings.calls.size(), 2u);
  for (const ProcessCallCount& counted : readings.calls) {
    std::uint64_t expected =
        counted.process.tgid == child ? cgroup_id : inode_of(own_cgroup_directory(*mount));
    EXPECT_EQ(counted.process.cgroup_id, expected) << counted.process.comm;
  }
  ASSERT_EQ(readings.events.size(), 2u);
  EXPECT_EQ(readings.events_of(child, LifecycleAction::kCreated).at(0).process.cgroup_id,
            cgroup_id);
  EXPECT_NE(readings.events_of(outside, LifecycleAction::kCreated).at(0).process.cgroup_id,
            cgroup_id);
}

// The agent's collector calls semctl and msgctl every tick, and may create and remove objects:
// none of its calls is counted per process or sent as an event; another process's are.
TEST_P(ProcessAttribution, AgentsOwnCallsAppearNowhere) {
  ATTACH_OR_SKIP(counter);
  seminfo info{};
  ASSERT_GE(::semctl(0, 0, SEM_INFO, &info), 0);
  int msqid = create_queue();
  msqid_ds status{};
  ASSERT_EQ(::msgctl(msqid, IPC_STAT, &status), 0);
  remove_queue(msqid);
  remove_semaphore_array(create_semaphore_array(1));
  ProcessActivity own = counter->read_processes();
  EXPECT_TRUE(own.calls.empty()) << own.calls.front().process.comm;
  EXPECT_TRUE(own.events.empty());

  pid_t child = in_child([] { remove_semaphore_array(create_semaphore_array(1)); });
  Readings readings;
  readings.add(counter->read_processes());
  EXPECT_EQ(readings.calls.size(), 2u);
  EXPECT_EQ(readings.events_of(child, LifecycleAction::kCreated).size(), 1u);
  EXPECT_EQ(readings.events_of(child, LifecycleAction::kRemoved).size(), 1u);
  for (const ProcessCallCount& counted : readings.calls) EXPECT_EQ(counted.process.tgid, child);
}

// An agent in a container's pid namespace is recognised through that namespace (the programs see
// tgids of the initial one, and compare plain tgids only for an agent that runs there): its own
// calls still appear nowhere, a child's do.
TEST_P(ProcessAttribution, AgentInAPidNamespaceLeavesOutItsOwnCalls) {
  { ATTACH_OR_SKIP(available); }
  int semid = create_semaphore_array(1);
  BpfMode mode = GetParam();
  in_child([semid, mode] {
    ASSERT_EQ(::unshare(CLONE_NEWPID), 0) << std::strerror(errno);
    in_child([semid, mode] {
      ASSERT_EQ(::getpid(), 1) << "the agent is the first process of its pid namespace";
      IpcCallCounterOpening opening = IpcCallCounter::open({.mode = mode});
      ASSERT_TRUE(opening.counter) << opening.failure;
      IpcCallCounter& counter = *opening.counter;
      semid_ds status{};
      ASSERT_EQ(::semctl(semid, 0, IPC_STAT, &status), 0);
      remove_semaphore_array(create_semaphore_array(1));
      ProcessActivity own = counter.read_processes();
      EXPECT_TRUE(own.calls.empty()) << own.calls.front().process.comm;
      EXPECT_TRUE(own.events.empty());
      EXPECT_EQ(counter.read().calls_of(IpcCall::kSemctl), 0u);

      in_child(
          [semid] {
            semid_ds status{};
            ASSERT_EQ(::semctl(semid, 0, IPC_STAT, &status), 0);
          },
          "caller");
      ProcessActivity activity = counter.read_processes();
      ASSERT_EQ(activity.calls.size(), 1u);
      EXPECT_EQ(activity.calls.front().process.comm, "caller");
      EXPECT_EQ(activity.calls.front().call, IpcCall::kSemctl);
      EXPECT_EQ(counter.read().calls_of(IpcCall::kSemctl), 1u);
    });
  });
}

// Read-and-delete while a process calls as fast as it can: every call is in exactly one reading,
// and the per-process counts add up to the namespace totals. The caller keeps calling until 200
// readings found some of its calls, so that reads and deletes overlap its updates many times; on
// a machine with two CPUs or more the caller and the reader run on different ones.
TEST_P(ProcessAttribution, ReadingWhileCallsAreMadeLosesAndDoublesNothing) {
  ATTACH_OR_SKIP(counter);
  struct Shared {
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> calls{0};
  };
  void* memory =
      ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(memory, MAP_FAILED);
  Shared* shared = new (memory) Shared;
  int semid = create_semaphore_array(1);
  cpu_set_t allowed;
  ASSERT_EQ(::sched_getaffinity(0, sizeof allowed, &allowed), 0);
  auto pin_to = [&allowed](int nth) {
    if (CPU_COUNT(&allowed) < 2) return;
    cpu_set_t one;
    CPU_ZERO(&one);
    for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &allowed) && seen++ == nth) CPU_SET(cpu, &one);
    }
    ::sched_setaffinity(0, sizeof one, &one);
  };
  pid_t caller = ::fork();
  ASSERT_GE(caller, 0);
  if (caller == 0) {
    pin_to(1);
    semid_ds status{};
    while (!shared->stop.load()) {
      ::semctl(semid, 0, IPC_STAT, &status);
      shared->calls.fetch_add(1);
    }
    ::_exit(0);
  }
  pin_to(0);
  constexpr int kBusyReadings = 200;
  Readings readings;
  int busy_readings = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  while (busy_readings < kBusyReadings && std::chrono::steady_clock::now() < deadline) {
    ProcessActivity activity = counter->read_processes();
    if (!activity.calls.empty()) ++busy_readings;
    readings.add(std::move(activity));
  }
  shared->stop.store(true);
  int status = 0;
  ASSERT_EQ(::waitpid(caller, &status, 0), caller);
  ::sched_setaffinity(0, sizeof allowed, &allowed);
  ASSERT_TRUE(WIFEXITED(status));
  // Other processes may call in this namespace as well: ipctrail's namespace sampler enters every
  // IPC namespace on the host (another test's agent with `namespaces: all`, `sample --namespace
  // all`). So the totals are taken between two readings, and kept once the second finds no call
  // made since the first: then the readings hold every call the totals count.
  std::uint64_t total = 0;
  bool quiet = false;
  for (int attempt = 0; attempt < 100 && !quiet; ++attempt) {
    readings.add(counter->read_processes());
    total = counter->read().calls_of(IpcCall::kSemctl);
    ProcessActivity after = counter->read_processes();
    quiet = after.calls.empty();
    readings.add(std::move(after));
  }
  ASSERT_TRUE(quiet) << "calls went on in the namespace after the caller stopped";
  EXPECT_EQ(busy_readings, kBusyReadings);
  std::uint64_t made = shared->calls.load();
  EXPECT_EQ(readings.count(caller, IpcCall::kSemctl, std::nullopt), made);
  // The totals hold every process of the namespace, so they are compared with the per-process
  // counts of all processes; the others are listed.
  std::uint64_t attributed = 0;
  for (const ProcessCallCount& counted : readings.calls) {
    if (counted.call != IpcCall::kSemctl) continue;
    attributed += counted.count;
    if (counted.process.tgid != caller) {
      std::cerr << "semctl by " << counted.process.comm << " (pid " << counted.process.tgid << ") x"
                << counted.count << '\n';
    }
  }
  EXPECT_EQ(total, attributed);
  EXPECT_EQ(readings.calls_not_attributed, 0u);
  RecordProperty("calls", std::to_string(made));
  ::munmap(memory, sizeof(Shared));
}

// A call is counted whole at its exit, in the totals and under its process in one program run:
// a msgrcv blocked while the counts are read is in neither yet, and after it returns in both.
// (Counting the totals at the entry and the process at the exit let the two disagree whenever an
// exit went uncounted: the totals once held 4 semctl beyond every process's counts.)
TEST_P(ProcessAttribution, TotalsAndProcessesAgreeWhileACallIsBlocked) {
  ATTACH_OR_SKIP(counter);
  int msqid = create_queue();
  pid_t receiver = ::fork();
  ASSERT_GE(receiver, 0);
  if (receiver == 0) {
    struct {
      long type;
      char text[8];
    } message{};
    ::_exit(::msgrcv(msqid, &message, sizeof message.text, 0, 0) == sizeof message.text ? 0 : 1);
  }
  // Blocked in msgrcv: /proc/<pid>/syscall starts with the number of the call it sleeps in.
  std::string syscall_path = "/proc/" + std::to_string(receiver) + "/syscall";
  ASSERT_TRUE(testing::eventually([&] {
    std::ifstream syscall(syscall_path);
    long number = -1;
    return static_cast<bool>(syscall >> number) && number == SYS_msgrcv;
  }));
  Readings readings;
  readings.add(counter->read_processes());
  EXPECT_EQ(counter->read().calls_of(IpcCall::kMsgrcv), 0u) << "a blocked call is not finished";
  EXPECT_EQ(readings.count(receiver, IpcCall::kMsgrcv, std::nullopt), 0u);

  send_message(msqid, 8);  // the agent's own call: not counted
  int status = 0;
  ASSERT_EQ(::waitpid(receiver, &status, 0), receiver);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  readings.add(counter->read_processes());
  EXPECT_EQ(counter->read().calls_of(IpcCall::kMsgrcv), 1u);
  EXPECT_EQ(readings.count(receiver, IpcCall::kMsgrcv, std::nullopt), 1u);
}

// Bounds: a map with room for 4 keys attributes 4 processes' calls and counts the rest; a ring
// buffer of one page keeps what fits and counts what it dropped.
TEST_P(ProcessAttribution, FullMapAndFullRingBufferAreCounted) {
  ATTACH_OR_SKIP(counter, {.process_map_entries = 4,
                           .ring_buffer_bytes = static_cast<std::uint32_t>(::getpagesize())});
  int semid = create_semaphore_array(1);
  constexpr int kProcesses = 10;
  for (int i = 0; i < kProcesses; ++i) {
    in_child([semid] {
      semid_ds status{};
      ASSERT_EQ(::semctl(semid, 0, IPC_STAT, &status), 0);
    });
  }
  Readings readings;
  readings.add(counter->read_processes());
  EXPECT_EQ(readings.calls.size(), 4u);
  EXPECT_EQ(readings.calls_not_attributed, kProcesses - 4u);

  constexpr int kArrays = 200;
  in_child([] {
    for (int i = 0; i < kArrays; ++i) create_semaphore_array(1);
  });
  Readings after;
  after.add(counter->read_processes());
  EXPECT_GT(after.events.size(), 0u);
  EXPECT_LT(after.events.size(), static_cast<std::size_t>(kArrays));
  EXPECT_EQ(after.events.size() + after.events_lost, static_cast<std::size_t>(kArrays));
  EXPECT_EQ(after.calls_not_attributed, kProcesses - 4u) << "cumulative, and no new overflow";
}

// With per-process counts the namespace totals are the processes' counts summed in user space;
// only the calls the per-process map has no room for go to the totals' slot in the kernel. So the
// totals stay exact however full the map: while the counts are still in the kernel, after they
// were read and deleted, and across readings. semop (the syscall itself: glibc's semop calls
// semtimedop), which no agent's sampler calls.
TEST_P(ProcessAttribution, TotalsStayExactWhenTheProcessMapIsFull) {
  ATTACH_OR_SKIP(counter, {.process_map_entries = 4});
  int semid = create_semaphore_array(1);
  constexpr int kProcesses = 10;
  constexpr int kSuccessesEach = 3;
  // Each process has two keys (successes and EINVAL): the map holds two processes' calls.
  auto call_from_processes = [semid] {
    for (int i = 0; i < kProcesses; ++i) {
      in_child([semid] {
        sembuf up_and_down[2] = {{0, 1, 0}, {0, -1, 0}};
        for (int call = 0; call < kSuccessesEach; ++call) {
          ASSERT_EQ(::syscall(SYS_semop, semid, up_and_down, 2), 0);
        }
        ASSERT_EQ(::syscall(SYS_semop, -1, up_and_down, 2), -1);
        ASSERT_EQ(errno, EINVAL);
      });
    }
  };
  auto expect_exact_totals = [&counter](int rounds, const char* when) {
    IpcCallCounts totals = counter->read();
    EXPECT_EQ(totals.calls_of(IpcCall::kSemop),
              static_cast<std::uint64_t>(rounds * kProcesses * (kSuccessesEach + 1)))
        << when;
    EXPECT_EQ(totals.failures_of(IpcCall::kSemop, ErrnoClass::kEINVAL),
              static_cast<std::uint64_t>(rounds * kProcesses))
        << when;
  };
  auto semop_calls = [](const Readings& readings) {
    std::uint64_t calls = 0;
    for (const ProcessCallCount& counted : readings.calls) {
      if (counted.call == IpcCall::kSemop) calls += counted.count;
    }
    return calls;
  };

  call_from_processes();
  expect_exact_totals(1, "with the counts still in the kernel");
  Readings readings;
  readings.add(counter->read_processes());
  expect_exact_totals(1, "after the counts were read and deleted");
  EXPECT_GT(readings.calls_not_attributed, 0u) << "the map was meant to overflow";
  EXPECT_EQ(semop_calls(readings) + readings.calls_not_attributed,
            static_cast<std::uint64_t>(kProcesses * (kSuccessesEach + 1)));

  call_from_processes();
  expect_exact_totals(2, "a second round, before reading");
  readings.add(counter->read_processes());
  expect_exact_totals(2, "a second round, after reading");
  EXPECT_EQ(semop_calls(readings) + readings.calls_not_attributed,
            static_cast<std::uint64_t>(2 * kProcesses * (kSuccessesEach + 1)));
}

INSTANTIATE_TEST_SUITE_P(AttachModes, ProcessAttribution,
                         ::testing::Values(BpfMode::kTracepoint, BpfMode::kFentry,
                                           BpfMode::kKprobe),
                         [](const auto& mode) { return std::string(to_string(mode.param)); });

// The agent's tick: IpcCallCollector fills Sample::processes whenever it fills ipc_calls.
using ProcessActivityInSample = testing::IpcNamespaceTest;

TEST_F(ProcessActivityInSample, CollectorFillsProcessesBesideTheCallCounts) {
  IpcCallCollector calls({.enabled = BpfEnabled::kOn, .mode = BpfMode::kTracepoint});
  ASSERT_TRUE(calls.counting());
  Sample first;
  calls.collect(first);
  ASSERT_TRUE(first.ipc_calls && first.processes);
  EXPECT_TRUE(first.processes->calls.empty());
  pid_t child = in_child([] { remove_queue(create_queue()); }, "collected");
  Sample second;
  calls.collect(second);
  ASSERT_TRUE(second.ipc_calls && second.processes);
  ASSERT_EQ(second.processes->calls.size(), 2u);
  EXPECT_EQ(second.processes->calls[0].process.tgid, child);
  EXPECT_EQ(second.processes->calls[0].process.comm, "collected");
  ASSERT_EQ(second.processes->events.size(), 2u);
  EXPECT_EQ(second.processes->events[0].action, LifecycleAction::kCreated);
  EXPECT_EQ(second.processes->events[1].action, LifecycleAction::kRemoved);

  IpcCallCollector off({.enabled = BpfEnabled::kOff});
  Sample without;
  off.collect(without);
  EXPECT_FALSE(without.ipc_calls || without.processes);
}

}  // namespace
}  // namespace ipctrail
