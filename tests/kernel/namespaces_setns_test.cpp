// The facts the setns worker rests on (docs/design.md §9), against the real kernel: entering an
// IPC namespace on one thread of a multi-threaded process is allowed and moves only that thread;
// /proc/sysvipc, /proc/sys/kernel and the *ctl calls answer for the thread's namespace; and the
// discovery and the sampler built on them.
#include <fcntl.h>
#include <sched.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>
#include <thread>

#include "agent/collect/collector.h"
#include "agent/namespaces/namespace_sampler.h"
#include "agent/namespaces/namespace_scan.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/namespace_holder.h"

namespace ipctrail {
namespace {

using testing::ipc_namespace_inode;
using testing::NamespaceContents;
using testing::NamespaceHolder;

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

TEST(NamespaceLink, ParsesOnlyIpcLinks) {
  EXPECT_EQ(parse_ipc_namespace_link("ipc:[4026531839]"), 4026531839u);
  EXPECT_EQ(parse_ipc_namespace_link("net:[4026531839]"), std::nullopt);
  EXPECT_EQ(parse_ipc_namespace_link("ipc:[]"), std::nullopt);
  EXPECT_EQ(parse_ipc_namespace_link("ipc:[12x]"), std::nullopt);
  EXPECT_EQ(parse_ipc_namespace_link("ipc:[99999999999999999999999]"), std::nullopt);
}

}  // namespace
}  // namespace ipctrail
