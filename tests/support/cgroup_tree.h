// Test support: cgroup v2 directories made by a test under the real cgroup2 mount (wherever
// /proc/self/mountinfo says it is), processes moved into them, and everything removed at the end.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ipctrail::testing {

struct TestCgroup {
  std::string directory;    // "/sys/fs/cgroup/unified/ipctrail-test-12/docker-....scope"
  std::string cgroup_path;  // as /proc/<pid>/cgroup shows it: "/ipctrail-test-12/docker-....scope"
  std::uint64_t id = 0;     // the directory's inode: bpf_get_current_cgroup_id() of its processes
};

// A tree of test cgroups rooted at <cgroup2 mount>/<name>. Root only; check created() (with
// IPCTRAIL_REQUIRE_PRIVILEGE) before use. The destructor removes the directories the tree still
// has, deepest first; processes must have left them (kill and reap them first).
class TestCgroupTree {
 public:
  explicit TestCgroupTree(const std::string& name);
  ~TestCgroupTree();
  TestCgroupTree(const TestCgroupTree&) = delete;
  TestCgroupTree& operator=(const TestCgroupTree&) = delete;

  bool created() const { return !made_.empty(); }
  std::string error() const { return error_; }
  const TestCgroup& root() const { return made_.front(); }

  // Makes root()/<relative> (its parent must exist); fails the test and returns id 0 on error.
  TestCgroup make(const std::string& relative);
  // Removes one (empty) directory made by make().
  void remove(const TestCgroup& cgroup);
  // Writes `pid` to the cgroup's cgroup.procs.
  void move_process(pid_t pid, const TestCgroup& cgroup);

 private:
  TestCgroup describe(const std::string& relative) const;

  std::string mount_point_;
  std::vector<TestCgroup> made_;  // in creation order: removing backwards removes children first
  std::string error_;
};

}  // namespace ipctrail::testing
