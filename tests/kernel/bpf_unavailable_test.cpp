// BPF made unavailable (tracefs unmounted in a private mount namespace, or capabilities dropped):
// with bpf.enabled auto the agent keeps polling and says why once; with true it refuses to start.
#include <sched.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>

#include "agent/collect/collector.h"
#include "bpf/ipc_call_collector.h"
#include "tests/support/capabilities.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/log_capture.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

std::size_t occurrences(const std::string& text, std::string_view needle) {
  std::size_t count = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

class BpfUnavailableTest : public testing::IpcNamespaceTest {
 protected:
  // Three agent ticks with BPF in `mode` under bpf.enabled auto, retrying at every tick: each
  // collects the namespace's one semaphore array and no call counts. Returns the log.
  static std::string poll_three_ticks(BpfMode mode) {
    testing::LogCapture log;
    IpcCallCollector calls(
        {.enabled = BpfEnabled::kAuto, .mode = mode, .retry_interval = std::chrono::seconds(0)});
    EXPECT_FALSE(calls.counting());
    Collector collector({});
    Sample sample;
    for (int tick = 0; tick < 3; ++tick) {
      collector.collect(sample);
      calls.collect(sample);
      EXPECT_EQ(sample.semaphore_arrays, 1u);
      EXPECT_FALSE(sample.ipc_calls);
    }
    return log.text();
  }
};

// A private mount namespace in which tracefs is not mounted. debugfs goes too: its tracing
// directory mounts tracefs again on the next look (an automount).
void unmount_tracefs_privately() {
  ASSERT_EQ(::unshare(CLONE_NEWNS), 0) << std::strerror(errno);
  ASSERT_EQ(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0)
      << std::strerror(errno);
  for (const char* path :
       {"/sys/kernel/debug/tracing", "/sys/kernel/debug", "/sys/kernel/tracing"}) {
    while (::umount2(path, MNT_DETACH) == 0) {
    }
  }
}

TEST_F(BpfUnavailableTest, TracefsNotMountedIsLoggedOnceWithTheMountCommand) {
  create_semaphore_array(4);
  unmount_tracefs_privately();
  std::string log = poll_three_ticks(BpfMode::kTracepoint);
  EXPECT_EQ(occurrences(log, "\n"), 1u) << log;
  EXPECT_EQ(occurrences(log, "tracefs is not mounted"), 1u) << log;
  EXPECT_EQ(occurrences(log, "mount -t tracefs tracefs /sys/kernel/tracing"), 1u) << log;

  EXPECT_THROW(IpcCallCollector({.enabled = BpfEnabled::kOn, .mode = BpfMode::kTracepoint}),
               BpfUnavailable);

  testing::CommandResult polled =
      testing::run_ipctrail("sample --bpf auto --bpf-mode tracepoint --format json");
  EXPECT_EQ(polled.exit_code, 0) << polled.output;
  EXPECT_EQ(occurrences(polled.output, "mount -t tracefs tracefs /sys/kernel/tracing"), 1u)
      << polled.output;
  EXPECT_NE(polled.output.find(
                R"("system.ipc_semaphore_arrays":{"units":"arrays","dimensions":{"arrays":1})"),
            std::string::npos)
      << polled.output;
  EXPECT_EQ(polled.output.find("system.ipc_semaphore_calls"), std::string::npos);

  testing::CommandResult refused =
      testing::run_ipctrail("sample --bpf on --bpf-mode tracepoint --format json");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("mount -t tracefs tracefs /sys/kernel/tracing"), std::string::npos)
      << refused.output;
}

TEST_F(BpfUnavailableTest, MissingCapabilitiesAreLoggedOnce) {
  create_semaphore_array(2);
  testing::drop_bpf_capabilities();
  std::string log = poll_three_ticks(BpfMode::kAuto);
  EXPECT_EQ(occurrences(log, "\n"), 1u) << log;
  EXPECT_EQ(occurrences(log, "lacks the privilege to load BPF"), 1u) << log;
  EXPECT_NE(log.find("AmbientCapabilities=CAP_BPF CAP_PERFMON"), std::string::npos) << log;

  testing::CommandResult polled = testing::run_ipctrail("sample --bpf auto");
  EXPECT_EQ(polled.exit_code, 0) << polled.output;
  EXPECT_EQ(occurrences(polled.output, "lacks the privilege to load BPF"), 1u) << polled.output;
  EXPECT_NE(polled.output.find("Semaphores"), std::string::npos) << polled.output;

  testing::CommandResult refused = testing::run_ipctrail("sample --bpf on");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("CAP_BPF"), std::string::npos) << refused.output;
}

TEST(BpfOff, NeverTries) {
  testing::LogCapture log;
  IpcCallCollector calls({.enabled = BpfEnabled::kOff});
  Sample sample;
  calls.collect(sample);
  EXPECT_FALSE(calls.counting());
  EXPECT_FALSE(sample.ipc_calls);
  EXPECT_EQ(log.text(), "");
}

}  // namespace
}  // namespace ipctrail
