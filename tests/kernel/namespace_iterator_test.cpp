// The BPF task iterator that lists every process's IPC namespace (bpf/namespace_iterator.h), as
// the namespace scan's source (docs/design.md §9): against the real kernel, what it lists equals
// what /proc's links say, and the scan falls back to the links when the iterator is refused.
#include "bpf/namespace_iterator.h"

#include <bpf/libbpf.h>
#include <linux/capability.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "agent/daemon/namespace_watch.h"
#include "agent/namespaces/namespace_scan.h"
#include "tests/support/capabilities.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/log_capture.h"
#include "tests/support/namespace_holder.h"

namespace ipctrail {
namespace {

using testing::NamespaceContents;
using testing::NamespaceHolder;

class NamespaceScanIterator : public testing::IpcNamespaceTest {};

// pid -> namespace inode of every process a scan saw.
std::map<pid_t, std::uint64_t> namespace_of_each_process(const NamespaceScan& scan) {
  std::map<pid_t, std::uint64_t> processes;
  for (const IpcNamespaceRef& ref : scan.namespaces) {
    for (pid_t pid : ref.pids) processes.emplace(pid, ref.inode);
  }
  return processes;
}

ProcessNamespaceSource source_of(NamespaceIterator& iterator) {
  return [&iterator](auto& inode_and_pid) { return iterator.read(inode_and_pid); };
}

// Whether `pid` finishes exiting (its namespace link no longer reads: gone, or a zombie) within
// 10 s, polled: the iterator skips a process from the moment it starts exiting.
bool exits(pid_t pid) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (testing::ipc_namespace_inode(std::to_string(pid)) != 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// Three namespaces, one of them with two processes: the scan through the iterator finds each with
// the same processes, representative and start time as the scan of /proc's links, and every
// process of the host in the namespace its link names.
TEST_F(NamespaceScanIterator, ListsEveryProcessInTheNamespaceItsLinkNames) {
  std::vector<NamespaceHolder> holders;
  for (int i = 0; i < 3; ++i) holders.emplace_back(NamespaceContents{});
  NamespaceHolder joined = NamespaceHolder::joining(holders[1].pid());
  for (const NamespaceHolder& holder : holders) ASSERT_TRUE(holder.ok());
  ASSERT_TRUE(joined.ok());
  NamespaceIteratorOpening opening = NamespaceIterator::open();
  IPCTRAIL_REQUIRE_PRIVILEGE(opening.iterator, "no BPF task iterator: " + opening.failure);

  NamespaceScanner by_links;
  NamespaceScanner by_iterator("/proc", source_of(*opening.iterator));
  const NamespaceScan& links = by_links.rescan();
  const NamespaceScan& listed = by_iterator.rescan();
  ASSERT_TRUE(listed.from_source);
  EXPECT_FALSE(links.from_source);
  EXPECT_EQ(listed.source_error, 0);
  EXPECT_EQ(listed.own_inode, links.own_inode);
  for (const NamespaceHolder& holder : holders) {
    const IpcNamespaceRef* by_link = links.find(holder.inode());
    const IpcNamespaceRef* by_task = listed.find(holder.inode());
    ASSERT_NE(by_link, nullptr);
    ASSERT_NE(by_task, nullptr) << "ipc:[" << holder.inode() << "] not listed by the iterator";
    EXPECT_EQ(by_task->pids, by_link->pids);
    EXPECT_EQ(by_task->processes, by_link->processes);
    EXPECT_EQ(by_task->start_ticks, by_link->start_ticks);
    EXPECT_FALSE(by_task->own || by_task->host);
  }
  EXPECT_EQ(listed.find(holders[1].inode())->pids,
            (std::vector<pid_t>{holders[1].pid(), joined.pid()}));
  const IpcNamespaceRef* host = listed.find(kHostIpcNamespaceInode);
  ASSERT_NE(host, nullptr);
  EXPECT_TRUE(host->host);

  // The whole host: other processes start, exit and change namespace meanwhile (other tests make
  // namespaces), so a process is compared only while both scans saw it; a process the links saw
  // and the iterator did not must have been exiting (a CI run once saw one such).
  std::map<pid_t, std::uint64_t> by_task = namespace_of_each_process(listed);
  std::size_t compared = 0;
  for (const auto& [pid, inode] : namespace_of_each_process(links)) {
    auto found = by_task.find(pid);
    if (found == by_task.end()) {
      EXPECT_TRUE(exits(pid)) << "pid " << pid << " is live and was not listed by the iterator";
      continue;
    }
    if (found->second != inode) {
      // Moved (unshare, setns) between the scans: read its link again.
      EXPECT_EQ(testing::ipc_namespace_inode(std::to_string(pid)), found->second) << "pid " << pid;
      continue;
    }
    ++compared;
  }
  EXPECT_GE(compared, holders.size() + 2);
}

// A namespace whose last process exits is gone from the next scan through the iterator, and a
// new one appears: the iterator holds no namespace.
TEST_F(NamespaceScanIterator, ANamespaceGoesWithItsLastProcess) {
  NamespaceHolder first(NamespaceContents{});
  ASSERT_TRUE(first.ok());
  NamespaceIteratorOpening opening = NamespaceIterator::open();
  IPCTRAIL_REQUIRE_PRIVILEGE(opening.iterator, "no BPF task iterator: " + opening.failure);
  NamespaceScanner scanner("/proc", source_of(*opening.iterator));
  ASSERT_NE(scanner.rescan().find(first.inode()), nullptr);
  std::uint64_t inode = first.inode();
  NamespaceHolder newcomer(NamespaceContents{});
  ASSERT_TRUE(newcomer.ok());
  first.exit();
  const NamespaceScan& scan = scanner.rescan();
  EXPECT_TRUE(scan.from_source);
  EXPECT_EQ(scan.find(inode), nullptr);
  EXPECT_NE(scan.find(newcomer.inode()), nullptr);
}

// A source that fails is left for /proc's links in the same scan, and not asked again.
TEST_F(NamespaceScanIterator, AFailingSourceFallsBackToProcLinksForGood) {
  NamespaceHolder holder(NamespaceContents{});
  ASSERT_TRUE(holder.ok());
  int calls = 0;
  NamespaceScanner scanner("/proc", [&calls](auto&) {
    ++calls;
    return EPERM;
  });
  const NamespaceScan& first = scanner.rescan();
  EXPECT_EQ(first.source_error, EPERM);
  EXPECT_FALSE(first.from_source);
  const IpcNamespaceRef* found = first.find(holder.inode());
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->pids, std::vector<pid_t>{holder.pid()});
  const NamespaceScan& second = scanner.rescan();
  EXPECT_EQ(second.source_error, 0);
  EXPECT_NE(second.find(holder.inode()), nullptr);
  EXPECT_EQ(calls, 1);
}

std::size_t occurrences(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

// The agent's watch says once which listing it uses, and finds the namespaces either way.
TEST_F(NamespaceScanIterator, TheWatchSaysOnceThatItUsesTheIterator) {
  NamespaceHolder holder(
      {.kernel_values = {}, .semaphore_arrays = {3}, .queues = {}, .segments = {}});
  ASSERT_TRUE(holder.ok());
  IPCTRAIL_REQUIRE_PRIVILEGE(NamespaceIterator::open().iterator, "no BPF task iterator");
  testing::LogCapture log;
  NamespaceWatch watch({}, std::chrono::milliseconds(0), true);
  auto now = NamespaceWatch::Clock::now();
  for (int tick = 0; tick < 3; ++tick) {
    std::vector<WatchedNamespace> watched = watch.sample(now + std::chrono::seconds(tick));
    auto found = std::find_if(watched.begin(), watched.end(), [&](const WatchedNamespace& one) {
      return one.identity.inode == holder.inode();
    });
    ASSERT_NE(found, watched.end());
    ASSERT_TRUE(found->sample);
    EXPECT_EQ(found->sample->semaphores, 3u);
  }
  EXPECT_EQ(occurrences(log.text(), "listed by a BPF task iterator"), 1u) << log.text();
  EXPECT_EQ(occurrences(log.text(), "/proc/<pid>/ns/ipc"), 0u) << log.text();
}

TEST_F(NamespaceScanIterator, TheWatchReadsProcLinksWhenBpfIsOff) {
  NamespaceHolder holder(NamespaceContents{});
  ASSERT_TRUE(holder.ok());
  testing::LogCapture log;
  NamespaceWatch watch({}, std::chrono::seconds(30), false);
  std::vector<WatchedNamespace> watched = watch.sample(NamespaceWatch::Clock::now());
  EXPECT_TRUE(std::any_of(watched.begin(), watched.end(), [&](const WatchedNamespace& one) {
    return one.identity.inode == holder.inode();
  }));
  EXPECT_EQ(occurrences(log.text(), "listed from /proc/<pid>/ns/ipc (bpf.enabled is off)"), 1u)
      << log.text();
}

// Calls a libbpf print function as libbpf does, with the arguments in a va_list.
void print_as_libbpf(libbpf_print_fn_t print, libbpf_print_level level, const char* format, ...) {
  va_list arguments;
  va_start(arguments, format);
  print(level, format, arguments);
  va_end(arguments);
}

// libbpf's own messages go to the log whichever loader of ours opens first: here the iterator, in
// a process (one per test under ctest) that opens no call counter. Otherwise libbpf writes them
// to stderr.
TEST_F(NamespaceScanIterator, OpeningRoutesLibbpfMessagesToTheLog) {
  NamespaceIteratorOpening opening = NamespaceIterator::open();
  IPCTRAIL_REQUIRE_PRIVILEGE(opening.iterator, "no BPF task iterator: " + opening.failure);
  libbpf_print_fn_t routed = libbpf_set_print(nullptr);
  libbpf_set_print(routed);
  ASSERT_NE(routed, nullptr);

  testing::LogCapture log;
  spdlog::default_logger()->set_level(spdlog::level::debug);
  print_as_libbpf(routed, LIBBPF_WARN, "libbpf: a message numbered %d\n", 42);
  EXPECT_NE(log.text().find("libbpf: a message numbered 42"), std::string::npos)
      << "libbpf's message did not reach the log: " << log.text();
}

// Refused (no privilege to load BPF), the iterator gives way to /proc's links: the watch says so
// and why, once, and still finds the namespaces (which, without CAP_SYS_ADMIN, it cannot enter).
TEST_F(NamespaceScanIterator, RefusedWithoutBpfPrivilegeTheWatchReadsProcLinks) {
  NamespaceHolder holder(NamespaceContents{});
  ASSERT_TRUE(holder.ok());
  testing::drop_bpf_capabilities();
  NamespaceIteratorOpening opening = NamespaceIterator::open();
  EXPECT_FALSE(opening.iterator);
  EXPECT_NE(opening.failure.find("lacks the privilege to load BPF"), std::string::npos)
      << opening.failure;

  testing::LogCapture log;
  NamespaceWatch watch({}, std::chrono::seconds(30), true);
  std::vector<WatchedNamespace> watched = watch.sample(NamespaceWatch::Clock::now());
  auto found = std::find_if(watched.begin(), watched.end(), [&](const WatchedNamespace& one) {
    return one.identity.inode == holder.inode();
  });
  ASSERT_NE(found, watched.end());
  EXPECT_FALSE(found->sample) << "entering needs CAP_SYS_ADMIN";
  EXPECT_EQ(occurrences(log.text(),
                        "listed from /proc/<pid>/ns/ipc: no BPF task iterator, this "
                        "process lacks the privilege to load BPF"),
            1u)
      << log.text();
  EXPECT_NE(log.text().find("missing CAP_SYS_ADMIN"), std::string::npos) << log.text();
}

// Without CAP_SYS_PTRACE /proc refuses other users' links; the iterator would list them anyway and
// hide what is missing, so it is refused and the scan counts the refused links as before.
TEST_F(NamespaceScanIterator, RefusedWithoutPtraceSoRefusedLinksAreStillCounted) {
  testing::drop_capabilities({CAP_SYS_PTRACE});
  NamespaceIteratorOpening opening = NamespaceIterator::open();
  EXPECT_FALSE(opening.iterator);
  EXPECT_NE(opening.failure.find("missing CAP_SYS_PTRACE"), std::string::npos) << opening.failure;
}

}  // namespace
}  // namespace ipctrail
