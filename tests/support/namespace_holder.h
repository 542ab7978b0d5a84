// Test support: long-lived processes in IPC namespaces of their own, holding objects and limits a
// test chose, and cgroups named like containers to put them in. For the tests of every-namespace
// sampling, which need namespaces that other processes than the test's own hold.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ipctrail::testing {

// What a holder's new namespace gets, in this order: limits, then objects.
struct NamespaceContents {
  // /proc/sys/kernel/<name> values written inside, e.g. {"sem", "250 1000 32 10"}.
  std::vector<std::pair<std::string, std::string>> kernel_values;
  std::vector<int> semaphore_arrays;  // nsems of each array
  // One queue per entry, holding messages of these payload sizes.
  std::vector<std::vector<std::size_t>> queues;
  std::vector<std::size_t> segments;  // size of each segment in bytes
};

class NamespaceHolder {
 public:
  // Forks a child that moves into `cgroup_dir` when given (its cgroup.procs), enters a new IPC
  // namespace, fills it and then waits to be killed. Fails the test (ADD_FAILURE) if any of it
  // fails; check ok(). Fork before the test starts threads.
  explicit NamespaceHolder(const NamespaceContents& contents, const std::string& cgroup_dir = "");
  // Forks a child that joins the IPC namespace of `pid` instead: a second process in it.
  static NamespaceHolder joining(pid_t pid);
  ~NamespaceHolder();  // kills (SIGKILL) and reaps the child
  NamespaceHolder(NamespaceHolder&& other) noexcept;
  NamespaceHolder(const NamespaceHolder&) = delete;
  NamespaceHolder& operator=(const NamespaceHolder&) = delete;
  NamespaceHolder& operator=(NamespaceHolder&&) = delete;

  bool ok() const { return inode_ != 0; }
  pid_t pid() const { return pid_; }
  std::uint64_t inode() const { return inode_; }  // of its ipc:[inode]
  // Kills and reaps the child now (the namespace goes when no other process holds it).
  void exit();

 private:
  NamespaceHolder() = default;
  void start(const NamespaceContents* contents, const std::string& cgroup_dir, pid_t join_pid);

  pid_t pid_ = -1;
  std::uint64_t inode_ = 0;
};

// The IPC namespace inode of `pid` ("self" for the caller), 0 when it cannot be read.
std::uint64_t ipc_namespace_inode(const std::string& pid);

// A cgroup v2 directory made for a test under the cgroup2 mount (found in /proc/self/mountinfo),
// removed again (after its processes have gone) by the destructor. `relative` may nest, e.g.
// "ipctrail-test.slice/docker-<64 hex>.scope"; every folder made is removed.
class TestCgroup {
 public:
  explicit TestCgroup(const std::string& relative);
  ~TestCgroup();
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

 private:
  std::vector<std::string> made_;  // outermost first
  std::string path_;
};

// The mount point of cgroup2, or "" when there is none.
std::string cgroup2_mount();

}  // namespace ipctrail::testing
