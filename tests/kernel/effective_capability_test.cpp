// model/capabilities.h on the real kernel: as root the calling thread holds CAP_SYS_ADMIN (in the
// first word of the capability sets) and CAP_BPF (in the second); once a forked child clears one
// from its effective set only, has_effective_capability says so, and says it holds it again once
// raised; a thread that clears one leaves the other threads of its process holding it. Everything
// that drops runs in a forked child, so the test process keeps its capabilities. Root: fails
// rather than skips under IPCTRAIL_REQUIRE_PRIVILEGED=1.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <unistd.h>

#include <thread>

#include "model/capabilities.h"
#include "tests/support/capabilities.h"
#include "tests/support/child_process.h"
#include "tests/support/ipc_namespace.h"

namespace ipctrail {
namespace {

using testing::in_child;
using testing::set_thread_effective_capability;

// Newer than some kernel headers; the kernel ABI since 5.8.
constexpr int kCapBpf = 39;

class EffectiveCapability : public ::testing::Test {
 protected:
  void SetUp() override { IPCTRAIL_REQUIRE_PRIVILEGE(::geteuid() == 0, "these tests need root"); }
};

TEST_F(EffectiveCapability, FollowsTheEffectiveSetOfTheCallingThread) {
  EXPECT_TRUE(has_effective_capability(CAP_SYS_ADMIN));
  EXPECT_TRUE(has_effective_capability(kCapBpf));
  in_child([] {
    for (int capability : {CAP_SYS_ADMIN, kCapBpf}) {
      set_thread_effective_capability(capability, false);
      EXPECT_FALSE(has_effective_capability(capability)) << "CAP " << capability;
      EXPECT_TRUE(has_effective_capability(CAP_SYS_PTRACE)) << "the others stay";
      set_thread_effective_capability(capability, true);
      EXPECT_TRUE(has_effective_capability(capability)) << "CAP " << capability;
    }
  });
  EXPECT_TRUE(has_effective_capability(CAP_SYS_ADMIN)) << "the test process kept it";
}

TEST_F(EffectiveCapability, IsTheCallingThreadsNotItsProcesss) {
  in_child([] {
    std::thread dropper([] {
      set_thread_effective_capability(CAP_SYS_ADMIN, false);
      EXPECT_FALSE(has_effective_capability(CAP_SYS_ADMIN));
    });
    dropper.join();
    EXPECT_TRUE(has_effective_capability(CAP_SYS_ADMIN));
  });
}

}  // namespace
}  // namespace ipctrail
