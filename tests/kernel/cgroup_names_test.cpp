// Names for cgroups on the real cgroup2 hierarchy (docs/design.md §7): child cgroups made by the
// test, named like a Docker scope and a service, resolve from their ids to their owners; a removed
// cgroup is "gone"; one made after the first walk is found by the walk a miss triggers, at most
// once per interval; the bounds on the names held and on the walk hold. Root: fails rather than
// skips under IPCTRAIL_REQUIRE_PRIVILEGED=1.
#include "agent/collect/cgroup_names.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "tests/support/cgroup_tree.h"
#include "tests/support/ipc_namespace.h"

namespace ipctrail {
namespace {

using testing::TestCgroup;
using testing::TestCgroupTree;

const std::string kDockerId = "4f6c2b1a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b";

class CgroupNamesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tree_ = std::make_unique<TestCgroupTree>(
        "ipctrail-test-" + std::to_string(::getpid()) + "-" +
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    IPCTRAIL_REQUIRE_PRIVILEGE(tree_->created(), tree_->error());
  }
  void TearDown() override { tree_.reset(); }

  static CgroupNamesOptions rescan_on_every_miss() {
    CgroupNamesOptions options;
    options.min_rescan_interval = std::chrono::seconds(0);
    return options;
  }

  std::unique_ptr<TestCgroupTree> tree_;
};

TEST_F(CgroupNamesTest, ADockerScopeAndAServiceByTheirIds) {
  TestCgroup docker = tree_->make("docker-" + kDockerId + ".scope");
  TestCgroup service = tree_->make("ipctrail-probe.service");
  CgroupNames names;

  CgroupName docker_name = names.resolve(docker.id);
  ASSERT_EQ(docker_name.state, CgroupName::State::kKnown) << docker_name.display;
  EXPECT_EQ(docker_name.path, docker.cgroup_path);
  EXPECT_EQ(docker_name.owner.kind, CgroupOwnerKind::kDocker);
  EXPECT_EQ(docker_name.owner.container_id, kDockerId);
  EXPECT_EQ(docker_name.display, "docker:4f6c2b1a9e8d");

  CgroupName service_name = names.resolve(service.id);
  ASSERT_EQ(service_name.state, CgroupName::State::kKnown) << service_name.display;
  EXPECT_EQ(service_name.path, service.cgroup_path);
  EXPECT_EQ(service_name.owner.kind, CgroupOwnerKind::kSystemdUnit);
  EXPECT_EQ(service_name.display, "ipctrail-probe.service");

  EXPECT_EQ(names.resolve(tree_->root().id).path, tree_->root().cgroup_path);
  EXPECT_EQ(names.walks(), 1u) << "one walk names the whole tree";
}

TEST_F(CgroupNamesTest, TheRootIsTheHost) {
  std::string mount = tree_->root().directory.substr(
      0, tree_->root().directory.size() - tree_->root().cgroup_path.size());
  struct stat status {};
  ASSERT_EQ(::stat(mount.c_str(), &status), 0);
  CgroupName root = CgroupNames().resolve(status.st_ino);
  ASSERT_EQ(root.state, CgroupName::State::kKnown);
  EXPECT_EQ(root.path, "/");
  EXPECT_EQ(root.display, "host");
}

TEST_F(CgroupNamesTest, TheIdIsTheOneTheKernelGivesTheCgroup) {
  // The kernel's own cgroup id (what bpf_get_current_cgroup_id returns) is the kernfs node id,
  // which open_by_handle's file handle for a cgroup2 directory carries; the walk uses the inode.
  TestCgroup cgroup = tree_->make("handle.scope");
  std::uint64_t kernel_id = 0;
  alignas(file_handle) unsigned char storage[sizeof(file_handle) + sizeof kernel_id] = {};
  auto* handle = reinterpret_cast<file_handle*>(storage);
  handle->handle_bytes = sizeof kernel_id;
  int mount_id = 0;
  ASSERT_EQ(::name_to_handle_at(AT_FDCWD, cgroup.directory.c_str(), handle, &mount_id, 0), 0)
      << std::strerror(errno);
  ASSERT_EQ(handle->handle_bytes, sizeof kernel_id);
  std::memcpy(&kernel_id, handle->f_handle, sizeof kernel_id);
  EXPECT_EQ(kernel_id, cgroup.id);
}

TEST_F(CgroupNamesTest, ARemovedCgroupIsGone) {
  TestCgroup cgroup = tree_->make("short-lived.scope");
  tree_->remove(cgroup);
  CgroupNames names(rescan_on_every_miss());
  CgroupName name = names.resolve(cgroup.id);
  EXPECT_EQ(name.state, CgroupName::State::kGone);
  EXPECT_EQ(name.display, "cgroup " + std::to_string(cgroup.id) + " (gone)");
  EXPECT_EQ(names.resolve(cgroup.id).state, CgroupName::State::kGone);
  EXPECT_EQ(names.walks(), 1u) << "a gone id is remembered, not walked for again";
}

TEST_F(CgroupNamesTest, GoneIdsHeldAreBounded) {
  CgroupNamesOptions options = rescan_on_every_miss();
  options.max_gone = 2;
  CgroupNames names(options);
  std::vector<TestCgroup> removed;
  for (int i = 0; i < 3; ++i) {
    removed.push_back(tree_->make("gone-" + std::to_string(i) + ".scope"));
    tree_->remove(removed.back());
  }
  for (const TestCgroup& cgroup : removed) {
    EXPECT_EQ(names.resolve(cgroup.id).state, CgroupName::State::kGone);
  }
  EXPECT_EQ(names.walks(), 3u);
  EXPECT_EQ(names.resolve(removed[2].id).state, CgroupName::State::kGone);
  EXPECT_EQ(names.walks(), 3u) << "the newest two are held";
  EXPECT_EQ(names.resolve(removed[0].id).state, CgroupName::State::kGone);
  EXPECT_EQ(names.walks(), 4u) << "the oldest was forgotten and is walked for again";
}

TEST_F(CgroupNamesTest, ANameSeenBeforeTheCgroupWentStaysRight) {
  TestCgroup cgroup = tree_->make("docker-" + kDockerId + ".scope");
  CgroupNames names(rescan_on_every_miss());
  ASSERT_EQ(names.resolve(cgroup.id).state, CgroupName::State::kKnown);
  tree_->remove(cgroup);
  TestCgroup later = tree_->make("later.service");
  ASSERT_EQ(names.resolve(later.id).state, CgroupName::State::kKnown);  // a second walk
  EXPECT_EQ(names.walks(), 2u);
  EXPECT_EQ(names.resolve(cgroup.id).display, "docker:4f6c2b1a9e8d");
}

TEST_F(CgroupNamesTest, ACgroupMadeAfterTheFirstWalkIsFound) {
  CgroupNames names(rescan_on_every_miss());
  ASSERT_EQ(names.resolve(tree_->root().id).state, CgroupName::State::kKnown);
  TestCgroup cgroup = tree_->make("crio-" + kDockerId + ".scope");
  CgroupName name = names.resolve(cgroup.id);
  ASSERT_EQ(name.state, CgroupName::State::kKnown);
  EXPECT_EQ(name.display, "cri-o:4f6c2b1a9e8d");
  EXPECT_EQ(names.walks(), 2u);
}

TEST_F(CgroupNamesTest, MissesWalkAtMostOncePerInterval) {
  CgroupNamesOptions options;
  options.min_rescan_interval = std::chrono::hours(1);
  CgroupNames names(options);
  ASSERT_EQ(names.resolve(tree_->root().id).state, CgroupName::State::kKnown);
  TestCgroup cgroup = tree_->make("new.service");
  for (int i = 0; i < 100; ++i) {
    CgroupName name = names.resolve(cgroup.id);
    EXPECT_EQ(name.state, CgroupName::State::kUnknown);
    EXPECT_EQ(name.display, "cgroup " + std::to_string(cgroup.id));
    names.resolve(cgroup.id + 1000000 + i);  // ids never seen: no walk either
  }
  EXPECT_EQ(names.walks(), 1u);
}

TEST_F(CgroupNamesTest, NamesHeldAreBounded) {
  CgroupNamesOptions options = rescan_on_every_miss();
  options.max_names = 8;
  CgroupNames names(options);
  std::vector<TestCgroup> cgroups;
  for (int i = 0; i < 20; ++i)
    cgroups.push_back(tree_->make("unit-" + std::to_string(i) + ".service"));
  for (const TestCgroup& cgroup : cgroups) {
    CgroupName name = names.resolve(cgroup.id);
    EXPECT_EQ(name.state, CgroupName::State::kKnown) << cgroup.cgroup_path;
    EXPECT_EQ(name.path, cgroup.cgroup_path);
    EXPECT_LE(names.names_held(), 8u);
  }
}

TEST_F(CgroupNamesTest, AnIncompleteWalkNeverCallsACgroupGone) {
  TestCgroup deep = tree_->make("a.slice");
  deep = tree_->make("a.slice/b.service");
  CgroupNamesOptions options = rescan_on_every_miss();
  options.max_walk = 1;  // lists the mount's root only: the test tree's children are not reached
  CgroupNames names(options);
  CgroupName name = names.resolve(deep.id);
  EXPECT_EQ(name.state, CgroupName::State::kUnknown);
  EXPECT_EQ(name.display, "cgroup " + std::to_string(deep.id));
  EXPECT_EQ(names.resolve(tree_->root().id).state, CgroupName::State::kKnown);
}

TEST_F(CgroupNamesTest, AHostileNameIsOtherAndPrintable) {
  TestCgroup cgroup = tree_->make("docker-\xff\x1b[31m.scope");
  CgroupName name = CgroupNames().resolve(cgroup.id);
  ASSERT_EQ(name.state, CgroupName::State::kKnown);
  EXPECT_EQ(name.path, cgroup.cgroup_path);
  EXPECT_EQ(name.owner.kind, CgroupOwnerKind::kOther);
  EXPECT_EQ(name.display, tree_->root().cgroup_path + "/docker-\\xff\\x1b[31m.scope");
}

// What the packaged service has: another user, and /proc mounted as ProtectProc=invisible mounts
// it (hidepid=invisible). Other processes' /proc entries are gone; naming by id still works.
TEST_F(CgroupNamesTest, NeedsCgroupfsOnlyNotOtherProcessesProc) {
  TestCgroup cgroup = tree_->make("docker-" + kDockerId + ".scope");
  pid_t test_process = ::getpid();
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible") !=
            0) {
      ::_exit(10);
    }
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(11);
    if (cgroup_path_of_process(test_process).has_value()) ::_exit(12);
    CgroupName name = CgroupNames().resolve(cgroup.id);
    ::_exit(name.state == CgroupName::State::kKnown && name.display == "docker:4f6c2b1a9e8d" ? 0
                                                                                             : 13);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "10: cannot mount /proc with hidepid=invisible, 11: cannot become nobody, 12: another "
         "process's /proc was readable, 13: the cgroup was not named from cgroupfs";
}

TEST_F(CgroupNamesTest, AProcessInAChildCgroup) {
  TestCgroup cgroup = tree_->make("docker-" + kDockerId + ".scope");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    char byte;
    ::close(ready[1]);
    while (::read(ready[0], &byte, 1) < 0 && errno == EINTR) {
    }
    ::_exit(0);
  }
  ::close(ready[0]);
  tree_->move_process(child, cgroup);
  std::optional<std::string> path = cgroup_path_of_process(child);
  std::ifstream own("/proc/self/cgroup");
  std::stringstream own_text;
  own_text << own.rdbuf();
  ::close(ready[1]);  // the child exits
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);

  // On a hybrid host with systemd the answer is the v1 name=systemd path, which a move in the v2
  // tree alone does not change (cgroup_names.h); elsewhere, as here, it is the v2 path.
  std::string expected = cgroup.cgroup_path;
  for (std::string line; std::getline(own_text, line);) {
    std::size_t named = line.find(":name=systemd:");
    if (named != std::string::npos && line.substr(named + 14) != "/")
      expected = line.substr(named + 14);
  }
  EXPECT_EQ(path, expected);
  if (expected == cgroup.cgroup_path) {
    EXPECT_EQ(classify_cgroup_path(*path).name, "docker:4f6c2b1a9e8d");
    EXPECT_EQ(CgroupNames().resolve(cgroup.id).path, *path);
  }
}

}  // namespace
}  // namespace ipctrail
