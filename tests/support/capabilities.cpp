#include "tests/support/capabilities.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace ipctrail::testing {

void drop_capabilities(std::initializer_list<int> capabilities) {
  for (int capability : capabilities) {
    ASSERT_EQ(::prctl(PR_CAPBSET_DROP, capability, 0, 0, 0), 0) << std::strerror(errno);
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  ASSERT_EQ(::syscall(SYS_capget, &header, data), 0);
  for (int capability : capabilities) {
    data[capability / 32].effective &= ~(1u << (capability % 32));
    data[capability / 32].permitted &= ~(1u << (capability % 32));
  }
  ASSERT_EQ(::syscall(SYS_capset, &header, data), 0) << std::strerror(errno);
}

void drop_bpf_capabilities() {
  constexpr int kCapPerfmon = 38, kCapBpf = 39;
  drop_capabilities({CAP_SYS_ADMIN, kCapPerfmon, kCapBpf});
}

void set_thread_effective_capability(int capability, bool raised) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  ASSERT_EQ(::syscall(SYS_capget, &header, data), 0);
  std::uint32_t bit = 1u << (capability % 32);
  if (raised) {
    data[capability / 32].effective |= bit;
  } else {
    data[capability / 32].effective &= ~bit;
  }
  ASSERT_EQ(::syscall(SYS_capset, &header, data), 0) << std::strerror(errno);
}

}  // namespace ipctrail::testing
