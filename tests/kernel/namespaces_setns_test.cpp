// The facts the setns worker rests on (docs/design.md §9), against the real kernel: entering an
// IPC namespace on one thread of a multi-threaded process is allowed and moves only that thread;
// /proc/sysvipc, /proc/sys/kernel and the *ctl calls answer for the thread's namespace; and the
// discovery and the sampler built on them.
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <thread>

#include "agent/collect/collector.h"
#include "agent/namespaces/namespace_sampler.h"
#include "agent/namespaces/namespace_scan.h"
#include "tests/support/capabilities.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/namespace_holder.h"

namespace ipctrail {
namespace {

using testing::ipc_namespace_inode;
using testing::NamespaceContents;
using testing::NamespaceHolder;
using testing::set_thread_effective_capability;

class NamespacesSetns : public testing::IpcNamespaceTest {};

std::uint64_t thread_namespace() {
  return ipc_namespace_inode("thread-self");
}

std::uint64_t arrays_in_use() {
  seminfo info{};
  return ::semctl(0, 0, SEM_INFO, &info) < 0 ? ~0ull : static_cast<std::uint64_t>(info.semusz);
}

TEST_F(NamespacesSetns, EnteringOnOneThreadMovesOnlyThatThread) {
  NamespaceHolder holder({.kernel_values = {{"sem", "250 1000 32 7"}},
                          .semaphore_arrays = {1, 2},
                          .queues = {},
                          .segments = {}});
  ASSERT_TRUE(holder.ok());
  create_semaphore_array(3);  // the test's own namespace: one array
  std::uint64_t own = thread_namespace();
  ASSERT_NE(own, holder.inode());

  std::promise<void> inside, leave;
  std::shared_future<void> may_leave = leave.get_future().share();
  struct Seen {
    int setns_error = -1;
    std::uint64_t namespace_inode = 0, arrays = 0;
    std::string sem_limits, sysvipc_sem;
    Sample sample;
  } seen;
  std::thread worker([&] {
    std::string path = "/proc/" + std::to_string(holder.pid()) + "/ns/ipc";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    seen.setns_error = fd >= 0 && ::setns(fd, CLONE_NEWIPC) == 0 ? 0 : errno;
    if (fd >= 0) ::close(fd);
    seen.namespace_inode = thread_namespace();
    seen.arrays = arrays_in_use();
    seen.sem_limits = IpcNamespaceTest::kernel_value("sem");
    seen.sample = Collector({}).collect();
    inside.set_value();
    may_leave.wait();
  });
  inside.get_future().wait();
  // The worker is inside the holder's namespace now; this thread and the process are not.
  std::uint64_t process_namespace = ipc_namespace_inode("self");
  std::uint64_t main_thread_namespace = thread_namespace();
  std::uint64_t main_thread_arrays = arrays_in_use();
  std::string main_thread_limits = kernel_value("sem");
  leave.set_value();
  worker.join();

  EXPECT_EQ(seen.setns_error, 0) << std::strerror(seen.setns_error);
  EXPECT_EQ(seen.namespace_inode, holder.inode());
  EXPECT_EQ(seen.arrays, 2u);
  EXPECT_EQ(seen.sem_limits, "250\t1000\t32\t7\n");
  EXPECT_EQ(seen.sample.semaphore_arrays, 2u);
  EXPECT_EQ(seen.sample.semaphores, 3u);
  EXPECT_EQ(seen.sample.limits.semmni, 7u);
  EXPECT_EQ(process_namespace, own);
  EXPECT_EQ(main_thread_namespace, own);
  EXPECT_EQ(main_thread_arrays, 1u);
  EXPECT_NE(main_thread_limits, seen.sem_limits);
}

TEST_F(NamespacesSetns, ScanFindsEachNamespaceWithItsOldestProcessFirst) {
  NamespaceHolder first(NamespaceContents{});
  ASSERT_TRUE(first.ok());
  NamespaceHolder second = NamespaceHolder::joining(first.pid());
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second.inode(), first.inode());

  NamespaceScanner scanner;
  const NamespaceScan& scan = scanner.rescan();
  const IpcNamespaceRef* held = scan.find(first.inode());
  ASSERT_NE(held, nullptr);
  EXPECT_FALSE(held->own);
  EXPECT_FALSE(held->host);
  EXPECT_EQ(held->processes, 2u);
  ASSERT_EQ(held->pids.size(), 2u);
  EXPECT_EQ(held->pids.front(), first.pid());
  EXPECT_EQ(held->pids.back(), second.pid());
  const IpcNamespaceRef* own = scan.find(thread_namespace());
  ASSERT_NE(own, nullptr);
  EXPECT_TRUE(own->own);
  EXPECT_EQ(scan.own_inode, own->inode);
  // The host's namespace, known by the kernel's fixed inode of its initial namespace.
  const IpcNamespaceRef* host = scan.find(kHostIpcNamespaceInode);
  ASSERT_NE(host, nullptr);
  EXPECT_TRUE(host->host);
  EXPECT_TRUE(std::is_sorted(scan.namespaces.begin(), scan.namespaces.end(),
                             [](const auto& a, const auto& b) { return a.inode < b.inode; }));
}

// The scan holds no descriptor: when the last process of a namespace exits, the namespace is gone
// at the next scan, and a new one appears.
TEST_F(NamespacesSetns, NamespaceWhoseLastProcessExitsIsGoneAtTheNextScan) {
  NamespaceHolder first(NamespaceContents{});
  NamespaceHolder second = NamespaceHolder::joining(first.pid());
  ASSERT_TRUE(first.ok() && second.ok());
  std::uint64_t inode = first.inode();
  NamespaceScanner scanner;
  ASSERT_NE(scanner.rescan().find(inode), nullptr);

  first.exit();
  const IpcNamespaceRef* still = scanner.rescan().find(inode);
  ASSERT_NE(still, nullptr) << "a process is still in it";
  EXPECT_EQ(still->pids, std::vector<pid_t>{second.pid()});

  // The newcomer is made while the old namespace lives: the kernel reuses a freed namespace's
  // inode number, so one made after could carry the same inode.
  NamespaceHolder newcomer(NamespaceContents{});
  ASSERT_TRUE(newcomer.ok());
  EXPECT_EQ(scanner.last().find(newcomer.inode()), nullptr) << "unknown until the next scan";
  second.exit();
  const NamespaceScan& scan = scanner.rescan();
  EXPECT_EQ(scan.find(inode), nullptr);
  EXPECT_NE(scan.find(newcomer.inode()), nullptr);
}

// Between scans the representative may exit: the sampler enters through another process of the
// namespace, and reports a namespace with none left as gone, without failing the others.
TEST_F(NamespacesSetns, SamplerEntersThroughAnotherProcessWhenTheFirstExited) {
  NamespaceHolder first(
      {.kernel_values = {}, .semaphore_arrays = {4}, .queues = {}, .segments = {}});
  NamespaceHolder second = NamespaceHolder::joining(first.pid());
  NamespaceHolder lonely(NamespaceContents{});
  ASSERT_TRUE(first.ok() && second.ok() && lonely.ok());
  NamespaceScanner scanner;
  const NamespaceScan& scan = scanner.rescan();
  std::vector<IpcNamespaceRef> targets{*scan.find(first.inode()), *scan.find(lonely.inode()),
                                       *scan.find(scan.own_inode)};
  first.exit();
  lonely.exit();

  std::vector<NamespaceSampleResult> results = NamespaceSampler({}).sample(targets);
  ASSERT_EQ(results.size(), 3u);
  ASSERT_TRUE(results[0].sample) << results[0].error;
  EXPECT_EQ(results[0].sample->semaphores, 4u);
  EXPECT_FALSE(results[1].sample);
  EXPECT_EQ(results[1].failure, NamespaceFailure::kGone);
  ASSERT_TRUE(results[2].sample);
  EXPECT_EQ(results[2].sample->semaphore_arrays, 0u);  // the test's own, empty namespace
  // Root misses no capability (a sandbox's init may still refuse even root its link).
  EXPECT_EQ(privilege_shortfall(scan, results).find("missing CAP_"), std::string::npos);
}

// Several workers share a tick's namespaces: each namespace is sampled once, by one of them, into
// its own result, whatever the order the workers take them in; the calling thread collects its
// own namespace meanwhile; and a namespace found gone on one worker does not stop the others.
// Two ticks: the first opens every namespace, the second reads the held tables.
TEST_F(NamespacesSetns, SeveralWorkersSampleEachNamespaceOnceIntoItsOwnResult) {
  constexpr int kNamespaces = 9;
  std::vector<std::unique_ptr<NamespaceHolder>> holders;
  for (int i = 0; i < kNamespaces; ++i) {
    holders.push_back(std::make_unique<NamespaceHolder>(NamespaceContents{
        .kernel_values = {}, .semaphore_arrays = {i + 1}, .queues = {}, .segments = {}}));
    ASSERT_TRUE(holders.back()->ok());
  }
  NamespaceHolder gone({.kernel_values = {}, .semaphore_arrays = {}, .queues = {}, .segments = {}});
  ASSERT_TRUE(gone.ok());
  create_semaphore_array(20);  // the test's own namespace
  NamespaceScanner scanner;
  const NamespaceScan& scan = scanner.rescan();
  std::vector<IpcNamespaceRef> targets{*scan.find(scan.own_inode), *scan.find(gone.inode())};
  for (const auto& holder : holders) targets.push_back(*scan.find(holder->inode()));
  gone.exit();
  CollectorOptions options;
  options.inventory = true;
  NamespaceSampler sampler(options, 4);

  for (int tick = 0; tick < 2; ++tick) {
    SCOPED_TRACE(tick);
    std::vector<NamespaceSampleResult> results = sampler.sample(targets);
    ASSERT_EQ(results.size(), targets.size());
    ASSERT_TRUE(results[0].sample) << results[0].error;
    EXPECT_EQ(results[0].sample->semaphores, 20u);
    EXPECT_FALSE(results[1].sample);
    EXPECT_EQ(results[1].failure, NamespaceFailure::kGone);
    for (int i = 0; i < kNamespaces; ++i) {
      const NamespaceSampleResult& result = results[static_cast<std::size_t>(i) + 2];
      EXPECT_EQ(result.inode, holders[static_cast<std::size_t>(i)]->inode());
      ASSERT_TRUE(result.sample) << result.error;
      EXPECT_EQ(result.sample->semaphore_arrays, 1u);
      EXPECT_EQ(result.sample->semaphores, static_cast<std::uint64_t>(i) + 1);
      ASSERT_TRUE(result.sample->objects.semaphores);
      ASSERT_EQ(result.sample->objects.semaphores->size(), 1u);
      EXPECT_EQ(result.sample->objects.semaphores->front().size, static_cast<std::uint64_t>(i) + 1);
    }
    EXPECT_EQ(sampler.namespaces_held(), static_cast<std::size_t>(kNamespaces));
    EXPECT_EQ(thread_namespace(), scan.own_inode);
  }
}

#if defined(__SANITIZE_THREAD__)
constexpr bool kThreadSanitizer = true;
#else
constexpr bool kThreadSanitizer = false;
#endif

// A worker thread that cannot start (EAGAIN: a thread or process limit) leaves the tick to the
// ones that did, and when none did the namespaces are reported not sampled, never gone. Run in a
// child under a user of its own (root is exempt from RLIMIT_NPROC) whose limit lets it start one
// thread, then none; before, the second worker's failed start ended the agent (std::terminate:
// the first worker was still joinable).
TEST_F(NamespacesSetns, AWorkerThatCannotStartLeavesTheTickToTheOthers) {
  NamespaceHolder first(NamespaceContents{});
  NamespaceHolder second(NamespaceContents{});
  ASSERT_TRUE(first.ok() && second.ok());
  NamespaceScanner scanner;
  const NamespaceScan& scan = scanner.rescan();
  std::vector<IpcNamespaceRef> targets{*scan.find(first.inode()), *scan.find(second.inode())};

  pid_t child = ::fork();
  ASSERT_GE(child, 0) << std::strerror(errno);
  if (child == 0) {
    constexpr uid_t kUnusedId = 54321;  // a user with no other process on the machine
    if (::setgroups(0, nullptr) != 0 || ::setresgid(kUnusedId, kUnusedId, kUnusedId) != 0 ||
        ::setresuid(kUnusedId, kUnusedId, kUnusedId) != 0) {
      ::_exit(10);
    }
    rlimit one_thread{2, 2};  // this process, and one thread more
    if (::setrlimit(RLIMIT_NPROC, &one_thread) != 0) ::_exit(11);
    NamespaceSampler sampler({}, 2);
    for (const NamespaceSampleResult& result : sampler.sample(targets)) {
      // The one worker took both: as this user it may not read root's links. Under TSan, whose
      // runtime starts a thread of its own in the child, that thread may take the budget.
      bool runtime_took_it = kThreadSanitizer && result.failure == NamespaceFailure::kNoWorker;
      if (result.failure != NamespaceFailure::kNeedsPtrace && !runtime_took_it) ::_exit(12);
    }
    rlimit no_thread{1, 1};
    if (::setrlimit(RLIMIT_NPROC, &no_thread) != 0) ::_exit(13);
    for (const NamespaceSampleResult& result : sampler.sample(targets)) {
      if (result.failure != NamespaceFailure::kNoWorker) ::_exit(14);
      if (result.error.find("cannot start a sampling thread") == std::string::npos) ::_exit(15);
    }
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the child was killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

std::size_t open_descriptors() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

// Runs `work` on a thread inside the IPC namespace of `pid`, as one of its processes would.
void inside_namespace_of(pid_t pid, const std::function<void()>& work) {
  std::thread([&] {
    std::string path = "/proc/" + std::to_string(pid) + "/ns/ipc";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(::setns(fd, CLONE_NEWIPC), 0) << std::strerror(errno);
    ::close(fd);
    work();
  }).join();
}

// The sampler keeps each namespace's descriptor, a pidfd of its process and its /proc/sysvipc
// tables open between ticks: what the tables show follows the namespace they were opened in,
// objects made and removed there after they were opened included; when the process it watches
// exits it goes on through another process of the namespace; and when the last one exits the
// namespace is reported gone and every descriptor is closed (held ones would keep it, and its
// objects, alive).
TEST_F(NamespacesSetns, HeldTablesFollowTheirNamespaceUntilItsLastProcessExits) {
  NamespaceHolder holder(
      {.kernel_values = {}, .semaphore_arrays = {2}, .queues = {{10}}, .segments = {4096}});
  NamespaceHolder joined = NamespaceHolder::joining(holder.pid());
  ASSERT_TRUE(holder.ok() && joined.ok());
  create_semaphore_array(9);  // the test's own namespace: never what the held tables show
  NamespaceScanner scanner;
  std::vector<IpcNamespaceRef> targets{*scanner.rescan().find(holder.inode())};
  std::size_t before = open_descriptors();
  CollectorOptions options;
  options.inventory = true;
  NamespaceSampler sampler(options);

  std::vector<NamespaceSampleResult> first = sampler.sample(targets);
  ASSERT_TRUE(first[0].sample) << first[0].error;
  EXPECT_EQ(first[0].sample->semaphore_arrays, 1u);
  ASSERT_TRUE(first[0].sample->objects.queues);
  EXPECT_EQ(first[0].sample->objects.queues->size(), 1u);
  EXPECT_EQ(sampler.namespaces_held(), 1u);
  std::size_t held = open_descriptors();
  EXPECT_EQ(held, before + 5) << "the namespace's own descriptor, a pidfd and three tables";

  int queue = first[0].sample->objects.queues->front().id;
  inside_namespace_of(holder.pid(), [&] {
    ASSERT_GE(::semget(IPC_PRIVATE, 5, IPC_CREAT | 0600), 0);
    ASSERT_EQ(::msgctl(queue, IPC_RMID, nullptr), 0);
    ASSERT_GE(::shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600), 0);
  });
  std::vector<NamespaceSampleResult> second = sampler.sample(targets);
  ASSERT_TRUE(second[0].sample) << second[0].error;
  EXPECT_EQ(second[0].sample->semaphore_arrays, 2u);
  EXPECT_EQ(second[0].sample->semaphores, 7u);
  ASSERT_TRUE(second[0].sample->objects.semaphores);
  EXPECT_EQ(second[0].sample->objects.semaphores->size(), 2u);
  EXPECT_TRUE(second[0].sample->objects.queues->empty());
  EXPECT_TRUE(second[0].sample->queues->empty());
  EXPECT_EQ(second[0].sample->shm_segments, 2u);
  EXPECT_EQ(second[0].sample->shm_bytes, 4096u + 8192u);
  EXPECT_EQ(open_descriptors(), held) << "read through the held descriptors, none opened";

  holder.exit();  // the process it was entered through
  std::vector<NamespaceSampleResult> third = sampler.sample(targets);
  ASSERT_TRUE(third[0].sample) << third[0].error;
  EXPECT_EQ(third[0].sample->semaphore_arrays, 2u);
  EXPECT_EQ(open_descriptors(), held) << "a pidfd of the other process instead";

  joined.exit();
  std::vector<NamespaceSampleResult> gone = sampler.sample(targets);
  EXPECT_FALSE(gone[0].sample);
  EXPECT_EQ(gone[0].failure, NamespaceFailure::kGone);
  EXPECT_EQ(sampler.namespaces_held(), 0u);
  EXPECT_EQ(open_descriptors(), before);
}

// A held namespace's objects follow that namespace from tick to tick, whether read through its
// held tables or, for a new or changed queue's msg_qbytes, with msgctl inside it: a capacity
// changed there with msgctl(IPC_SET), a queue and an array made there and an array removed there
// all show in the next tick, and nothing of the worker's own namespace does.
TEST_F(NamespacesSetns, HeldNamespacesObjectsAreReadInsideEachTick) {
  NamespaceHolder holder(
      {.kernel_values = {}, .semaphore_arrays = {3, 4}, .queues = {{10}}, .segments = {4096}});
  ASSERT_TRUE(holder.ok());
  create_semaphore_array(9);  // the test's own namespace: never what the sampler shows
  create_queue();
  NamespaceScanner scanner;
  std::vector<IpcNamespaceRef> targets{*scanner.rescan().find(holder.inode())};
  CollectorOptions options;
  options.inventory = true;
  NamespaceSampler sampler(options);

  std::vector<NamespaceSampleResult> first = sampler.sample(targets);
  ASSERT_TRUE(first[0].sample) << first[0].error;
  ASSERT_TRUE(first[0].sample->objects.semaphores && first[0].sample->objects.queues);
  ASSERT_EQ(first[0].sample->objects.semaphores->size(), 2u);
  EXPECT_EQ(first[0].sample->semaphores, 7u);
  ASSERT_EQ(first[0].sample->queues->size(), 1u);
  const MessageQueue& queue = first[0].sample->queues->front();
  EXPECT_EQ(queue.messages, 1u);
  EXPECT_EQ(queue.bytes, 10u);
  std::uint64_t default_capacity = queue.capacity_bytes.value_or(0);
  ASSERT_GT(default_capacity, 0u);
  int queue_id = queue.msqid;
  int removed_array = first[0].sample->objects.semaphores->front().id;

  int made_queue = -1, made_array = -1;
  inside_namespace_of(holder.pid(), [&] {
    msqid_ds status{};
    ASSERT_EQ(::msgctl(queue_id, IPC_STAT, &status), 0) << std::strerror(errno);
    status.msg_qbytes = 12345;
    ASSERT_EQ(::msgctl(queue_id, IPC_SET, &status), 0) << std::strerror(errno);
    made_queue = ::msgget(IPC_PRIVATE, IPC_CREAT | 0640);
    made_array = ::semget(IPC_PRIVATE, 5, IPC_CREAT | 0600);
    ASSERT_EQ(::semctl(removed_array, 0, IPC_RMID), 0) << std::strerror(errno);
  });
  ASSERT_GE(made_queue, 0);
  ASSERT_GE(made_array, 0);

  std::vector<NamespaceSampleResult> next = sampler.sample(targets);
  ASSERT_TRUE(next[0].sample) << next[0].error;
  const Sample& sample = *next[0].sample;
  ASSERT_EQ(sample.queues->size(), 2u);
  ASSERT_EQ(sample.objects.queues->size(), 2u);
  for (std::size_t i = 0; i < sample.queues->size(); ++i) {
    const MessageQueue& listed = (*sample.queues)[i];
    const IpcObject& object = (*sample.objects.queues)[i];
    EXPECT_EQ(object.id, listed.msqid);
    EXPECT_EQ(listed.capacity_bytes, listed.msqid == made_queue ? default_capacity : 12345u);
    EXPECT_EQ(object.qbytes, listed.capacity_bytes);
    EXPECT_EQ(object.mode, listed.msqid == made_queue ? 0640u : 0600u);
  }
  EXPECT_EQ(sample.semaphores, 4u + 5u);
  EXPECT_EQ(sample.semaphore_arrays, 2u);
  ASSERT_EQ(sample.objects.semaphores->size(), 2u);
  for (const IpcObject& array : *sample.objects.semaphores) {
    EXPECT_NE(array.id, removed_array);
    EXPECT_EQ(array.size, array.id == made_array ? 5u : 4u);
  }
}

// A held table whose text is the same as at the last tick keeps the objects parsed then; one
// field that moves (a semop's otime, a message more, an attach), even to a number of the same
// width, makes the table parsed again, with the same rows.
TEST_F(NamespacesSetns, HeldTablesAreParsedAgainWhenAnyFieldMoves) {
  NamespaceHolder holder(
      {.kernel_values = {}, .semaphore_arrays = {2}, .queues = {{10}}, .segments = {4096}});
  ASSERT_TRUE(holder.ok());
  NamespaceScanner scanner;
  std::vector<IpcNamespaceRef> targets{*scanner.rescan().find(holder.inode())};
  CollectorOptions options;
  options.inventory = true;
  NamespaceSampler sampler(options, 1);
  auto objects = [&] {
    std::vector<NamespaceSampleResult> results = sampler.sample(targets);
    EXPECT_TRUE(results[0].sample) << results[0].error;
    return results[0].sample ? results[0].sample->objects : IpcInventory{};
  };

  IpcInventory before = objects();
  ASSERT_TRUE(before.semaphores && before.queues && before.segments);
  ASSERT_EQ(before.semaphores->size(), 1u);
  ASSERT_EQ(before.queues->size(), 1u);
  ASSERT_EQ(before.segments->size(), 1u);
  EXPECT_EQ(before.semaphores->front().otime, 0);
  EXPECT_EQ(before.queues->front().qnum, 1u);
  EXPECT_EQ(before.segments->front().nattch, 0u);
  EXPECT_EQ(objects(), before) << "nothing moved";

  void* attached = nullptr;
  inside_namespace_of(holder.pid(), [&] {
    sembuf post{0, 1, 0};
    ASSERT_EQ(::semop(before.semaphores->front().id, &post, 1), 0) << std::strerror(errno);
    char payload[10] = {};
    struct {
      long mtype = 1;
      char text[10];
    } message{};
    std::memcpy(message.text, payload, sizeof payload);
    ASSERT_EQ(::msgsnd(before.queues->front().id, &message, sizeof payload, IPC_NOWAIT), 0)
        << std::strerror(errno);
    attached = ::shmat(before.segments->front().id, nullptr, SHM_RDONLY);
    ASSERT_NE(attached, reinterpret_cast<void*>(-1)) << std::strerror(errno);
  });
  IpcInventory moved = objects();
  ::shmdt(attached);
  ASSERT_TRUE(moved.semaphores && moved.queues && moved.segments);
  ASSERT_EQ(moved.semaphores->size(), 1u);
  EXPECT_GT(moved.semaphores->front().otime, 0);
  ASSERT_EQ(moved.queues->size(), 1u);
  EXPECT_EQ(moved.queues->front().qnum, 2u);
  EXPECT_EQ(moved.queues->front().cbytes, 20u);
  ASSERT_EQ(moved.segments->size(), 1u);
  EXPECT_EQ(moved.segments->front().nattch, 1u);

  IpcInventory detached = objects();
  ASSERT_TRUE(detached.segments && detached.semaphores);
  ASSERT_EQ(detached.segments->size(), 1u);
  EXPECT_EQ(detached.segments->front().nattch, 0u);
  EXPECT_EQ(*detached.semaphores, *moved.semaphores);
}

// A held namespace is entered only when a tick must run inside it (docs/design.md §9): its tables
// answer from the worker's own namespace, so a tick with no new or changed queue and no limits
// due makes no setns, and one whose queue changed (msgctl IPC_SET, which moves its ctime) does,
// for that queue's msg_qbytes. Seen through CAP_SYS_ADMIN, which setns needs: taken from the
// effective set of this thread (the worker inherits it), a steady tick is still sampled and
// exact, and a tick after an IPC_SET is refused rather than served the stale capacity.
TEST_F(NamespacesSetns, HeldNamespaceIsEnteredOnlyWhenATickMustRunInside) {
  NamespaceHolder holder(
      {.kernel_values = {}, .semaphore_arrays = {3}, .queues = {{10}}, .segments = {4096}});
  ASSERT_TRUE(holder.ok());
  NamespaceScanner scanner;
  std::vector<IpcNamespaceRef> targets{*scanner.rescan().find(holder.inode())};
  CollectorOptions options;
  options.inventory = true;
  NamespaceSampler sampler(options);

  // A queue made or read in the second of its ctime is read once more in a later second (its
  // ctime cannot tell an IPC_SET in that same second): tick until one falls in a later second
  // than the first.
  std::vector<NamespaceSampleResult> results = sampler.sample(targets);
  ASSERT_TRUE(results[0].sample) << results[0].error;
  std::time_t first_second = std::time(nullptr);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::time(nullptr) <= first_second && std::chrono::steady_clock::now() < deadline) {
    results = sampler.sample(targets);
    ASSERT_TRUE(results[0].sample) << results[0].error;
  }
  ASSERT_GT(std::time(nullptr), first_second);
  results = sampler.sample(targets);
  ASSERT_TRUE(results[0].sample) << results[0].error;
  ASSERT_EQ(results[0].sample->queues->size(), 1u);
  int queue = results[0].sample->queues->front().msqid;
  std::uint64_t default_capacity = results[0].sample->queues->front().capacity_bytes.value_or(0);
  ASSERT_GT(default_capacity, 0u);

  set_thread_effective_capability(CAP_SYS_ADMIN, false);
  std::vector<NamespaceSampleResult> steady = sampler.sample(targets);
  set_thread_effective_capability(CAP_SYS_ADMIN, true);
  ASSERT_TRUE(steady[0].sample) << "a steady tick needs no setns: " << steady[0].error;
  EXPECT_EQ(steady[0].sample->semaphores, 3u);
  EXPECT_EQ(steady[0].sample->semaphore_arrays, 1u);
  EXPECT_EQ(steady[0].sample->shm_segments, 1u);
  ASSERT_EQ(steady[0].sample->queues->size(), 1u);
  EXPECT_EQ(steady[0].sample->queues->front().messages, 1u);
  EXPECT_EQ(steady[0].sample->queues->front().capacity_bytes, default_capacity);

  inside_namespace_of(holder.pid(), [&] {
    msqid_ds status{};
    ASSERT_EQ(::msgctl(queue, IPC_STAT, &status), 0) << std::strerror(errno);
    status.msg_qbytes = 12345;
    ASSERT_EQ(::msgctl(queue, IPC_SET, &status), 0) << std::strerror(errno);
  });
  set_thread_effective_capability(CAP_SYS_ADMIN, false);
  std::vector<NamespaceSampleResult> changed = sampler.sample(targets);
  set_thread_effective_capability(CAP_SYS_ADMIN, true);
  EXPECT_FALSE(changed[0].sample) << "the changed queue's capacity is read inside";
  EXPECT_EQ(changed[0].failure, NamespaceFailure::kNeedsSysAdmin);

  std::vector<NamespaceSampleResult> entered = sampler.sample(targets);
  ASSERT_TRUE(entered[0].sample) << entered[0].error;
  ASSERT_EQ(entered[0].sample->queues->size(), 1u);
  EXPECT_EQ(entered[0].sample->queues->front().capacity_bytes, 12345u);
  ASSERT_TRUE(entered[0].sample->objects.queues);
  EXPECT_EQ(entered[0].sample->objects.queues->front().qbytes, 12345u);

  int made = -1;
  inside_namespace_of(holder.pid(), [&] { made = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600); });
  ASSERT_GE(made, 0) << std::strerror(errno);
  std::vector<NamespaceSampleResult> with_new = sampler.sample(targets);
  ASSERT_TRUE(with_new[0].sample) << with_new[0].error;
  ASSERT_EQ(with_new[0].sample->queues->size(), 2u);
  for (const MessageQueue& listed : *with_new[0].sample->queues) {
    EXPECT_EQ(listed.capacity_bytes, listed.msqid == made ? default_capacity : 12345u);
  }
  EXPECT_EQ(thread_namespace(), scanner.last().own_inode) << "this thread never moved";
}

// A held table is read until a read leaves more than the longest row of a page unused (seq_file
// stops short of a page only at the end, or when the next row does not fit): tables of one row,
// of about a page and of several pages are all read whole, tick after tick.
TEST_F(NamespacesSetns, HeldTablesOfEverySizeAreReadWhole) {
  std::vector<NamespaceHolder> holders;
  for (std::size_t segments : {1u, 20u, 23u, 120u}) {
    NamespaceContents contents;
    contents.segments.assign(segments, 4096);
    contents.semaphore_arrays.assign(segments, 1);
    holders.emplace_back(contents);
    ASSERT_TRUE(holders.back().ok());
  }
  NamespaceScanner scanner;
  const NamespaceScan& scan = scanner.rescan();
  std::vector<IpcNamespaceRef> targets;
  for (const NamespaceHolder& holder : holders) targets.push_back(*scan.find(holder.inode()));
  CollectorOptions options;
  options.inventory = true;
  NamespaceSampler sampler(options);
  for (int tick = 0; tick < 3; ++tick) {
    std::vector<NamespaceSampleResult> results = sampler.sample(targets);
    for (std::size_t i = 0; i < results.size(); ++i) {
      ASSERT_TRUE(results[i].sample) << results[i].error;
      std::size_t expected = i == 0 ? 1 : i == 1 ? 20 : i == 2 ? 23 : 120;
      EXPECT_EQ(results[i].sample->shm_segments, expected);
      ASSERT_TRUE(results[i].sample->objects.segments && results[i].sample->objects.semaphores);
      EXPECT_EQ(results[i].sample->objects.segments->size(), expected);
      EXPECT_EQ(results[i].sample->objects.semaphores->size(), expected);
      EXPECT_EQ(results[i].sample->semaphore_arrays, expected);
      EXPECT_EQ(results[i].sample->skipped_lines, 0u);
    }
  }
}

TEST(NamespaceLink, ParsesOnlyIpcLinks) {
  EXPECT_EQ(parse_ipc_namespace_link("ipc:[4026531839]"), 4026531839u);
  EXPECT_EQ(parse_ipc_namespace_link("net:[4026531839]"), std::nullopt);
  EXPECT_EQ(parse_ipc_namespace_link("ipc:[]"), std::nullopt);
  EXPECT_EQ(parse_ipc_namespace_link("ipc:[12x]"), std::nullopt);
  EXPECT_EQ(parse_ipc_namespace_link("ipc:[99999999999999999999999]"), std::nullopt);
}

}  // namespace
}  // namespace ipctrail
