// Test support: run a test inside its own, empty IPC namespace with its own limits.
//
// Tests that need root (a private IPC namespace, /proc/sys/kernel writes, BPF) skip when the
// machine cannot give it, unless IPCTRAIL_REQUIRE_PRIVILEGED=1 (set by scripts/test.sh and CI),
// where they fail instead: CI must never go green on tests that did not run.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace ipctrail::testing {

bool privileged_tests_required();

// Skips, or fails when privileged tests are required, with `reason`.
#define IPCTRAIL_REQUIRE_PRIVILEGE(condition, reason)                                     \
  do {                                                                                    \
    if (!(condition)) {                                                                   \
      if (::ipctrail::testing::privileged_tests_required()) FAIL() << (reason);           \
      GTEST_SKIP() << (reason) << " (set IPCTRAIL_REQUIRE_PRIVILEGED=1 to fail instead)"; \
    }                                                                                     \
  } while (0)

// Moves the whole (single-threaded) test process into a new IPC namespace; the previous
// test's objects vanish with its namespace.
class IpcNamespaceTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // Writes a /proc/sys/kernel/<name> value of this namespace.
  static void set_kernel_value(const std::string& name, const std::string& value);
  static std::string kernel_value(const std::string& name);

  // Creates objects with IPC_PRIVATE; each asserts success and returns the id.
  static int create_semaphore_array(int nsems);
  static int create_queue();
  static void send_message(int msqid, std::size_t payload_bytes);
  static int create_segment(std::size_t bytes);
  static void remove_semaphore_array(int semid);
  static void remove_queue(int msqid);
  static void remove_segment(int shmid);
};

}  // namespace ipctrail::testing
