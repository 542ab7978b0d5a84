// Test support: long-lived processes in IPC namespaces of their own, holding objects and limits a
// test chose (in a test cgroup of tests/support/cgroup_tree.h when asked). For the tests of
// every-namespace sampling, which need namespaces that other processes than the test's own hold.
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
  // Forks a child that moves into the cgroup directory `cgroup_dir` when given (writing its
  // cgroup.procs itself, before anything else), enters a new IPC
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

}  // namespace ipctrail::testing
