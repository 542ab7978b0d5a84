#include "tests/support/cgroup_tree.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "agent/collect/cgroup_names.h"

namespace ipctrail::testing {

TestCgroupTree::TestCgroupTree(const std::string& name) {
  std::ifstream file("/proc/self/mountinfo");
  std::stringstream mountinfo;
  mountinfo << file.rdbuf();
  std::optional<Cgroup2Mount> mount = cgroup2_mount_in(mountinfo.str());
  if (!mount || mount->root != "/") {
    error_ = "no cgroup2 mount of the whole hierarchy in /proc/self/mountinfo";
    return;
  }
  mount_point_ = mount->mount_point;
  if (::mkdir((mount_point_ + "/" + name).c_str(), 0755) != 0) {
    error_ = "mkdir " + mount_point_ + "/" + name + ": " + std::strerror(errno) +
             " (these tests need root)";
    return;
  }
  made_.push_back(describe(name));
}

TestCgroupTree::~TestCgroupTree() {
  for (auto cgroup = made_.rbegin(); cgroup != made_.rend(); ++cgroup) {
    if (::rmdir(cgroup->directory.c_str()) != 0 && errno != ENOENT) {
      ADD_FAILURE() << "rmdir " << cgroup->directory << ": " << std::strerror(errno);
    }
  }
}

TestCgroup TestCgroupTree::describe(const std::string& relative) const {
  TestCgroup cgroup{mount_point_ + "/" + relative, "/" + relative, 0};
  struct stat status {};
  if (::stat(cgroup.directory.c_str(), &status) == 0) cgroup.id = status.st_ino;
  return cgroup;
}

TestCgroup TestCgroupTree::make(const std::string& relative) {
  std::string full = root().cgroup_path.substr(1) + "/" + relative;
  if (::mkdir((mount_point_ + "/" + full).c_str(), 0755) != 0) {
    ADD_FAILURE() << "mkdir " << mount_point_ << "/" << full << ": " << std::strerror(errno);
    return {};
  }
  made_.push_back(describe(full));
  return made_.back();
}

void TestCgroupTree::remove(const TestCgroup& cgroup) {
  EXPECT_EQ(::rmdir(cgroup.directory.c_str()), 0)
      << "rmdir " << cgroup.directory << ": " << std::strerror(errno);
  std::erase_if(made_, [&](const TestCgroup& made) { return made.directory == cgroup.directory; });
}

void TestCgroupTree::move_process(pid_t pid, const TestCgroup& cgroup) {
  std::ofstream procs(cgroup.directory + "/cgroup.procs");
  procs << pid << '\n';
  procs.flush();
  EXPECT_TRUE(procs.good()) << "cannot move " << pid << " into " << cgroup.directory;
}

}  // namespace ipctrail::testing
