// The exposition of the real kernel's state, in a private IPC namespace with known objects.
#include <fmt/format.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#include <cerrno>
#include <cstring>

#include "agent/collect/collector.h"
#include "export/prometheus.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/prometheus_support.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

using ExpositionNamespace = testing::IpcNamespaceTest;
using testing::series_value;

std::size_t count_lines_starting(const std::string& text, const std::string& prefix) {
  std::size_t count = 0;
  for (std::size_t at = text.find("\n" + prefix); at != std::string::npos;
       at = text.find("\n" + prefix, at + 1)) {
    ++count;
  }
  return count;
}

TEST_F(ExpositionNamespace, FiveThousandQueues) {
  constexpr int kQueues = 5000;
  set_kernel_value("msgmni", std::to_string(kQueues + 100));
  std::vector<int> ids;
  ids.reserve(kQueues);
  for (int i = 0; i < kQueues; ++i) {
    int id = ::msgget(static_cast<key_t>(0x70000000 + i), IPC_CREAT | 0600);
    ASSERT_GE(id, 0) << "queue " << i << ": " << std::strerror(errno);
    ids.push_back(id);
  }
  for (int i = 0; i < kQueues; i += 500) send_message(ids[i], 10 + i);

  Sample sample = Collector({}).collect();
  ASSERT_TRUE(sample.queues);
  ASSERT_EQ(sample.queues->size(), std::size_t(kQueues));
  std::string text = render_exposition({.sample = sample});

  EXPECT_EQ(series_value(text, "ipctrail_message_queues"), std::to_string(kQueues));
  EXPECT_EQ(count_lines_starting(text, "ipctrail_message_queue_messages{"), std::size_t(kQueues));
  EXPECT_EQ(count_lines_starting(text, "ipctrail_message_queue_bytes{"), std::size_t(kQueues));
  for (int i = 0; i < kQueues; i += 500) {
    std::string labels = fmt::format(R"({{msqid="{}",key="0x{:08x}"}})", ids[i], 0x70000000 + i);
    EXPECT_EQ(series_value(text, "ipctrail_message_queue_bytes" + labels), std::to_string(10 + i));
    EXPECT_EQ(series_value(text, "ipctrail_message_queue_messages" + labels), "1");
  }
  std::string quiet = fmt::format(R"({{msqid="{}",key="0x{:08x}"}})", ids[1], 0x70000001);
  EXPECT_EQ(series_value(text, "ipctrail_message_queue_bytes" + quiet), "0");
  EXPECT_EQ(series_value(text, R"(ipctrail_limit{name="msgmni"})"), std::to_string(kQueues + 100));

  testing::CommandResult check = testing::promtool_check_metrics(text);
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_EQ(check.output, "");
}

TEST_F(ExpositionNamespace, SampleCommandPrintsTheExposition) {
  set_kernel_value("sem", "250 1000 32 10");
  create_semaphore_array(7);
  int msqid = ::msgget(0x51ec7a11, IPC_CREAT | 0600);
  ASSERT_GE(msqid, 0) << std::strerror(errno);
  send_message(msqid, 42);
  create_segment(65536);

  testing::CommandResult sample = testing::run_ipctrail("sample --format prometheus");
  ASSERT_EQ(sample.exit_code, 0) << sample.output;
  const std::string& text = sample.output;
  EXPECT_EQ(series_value(text, "ipctrail_up"), "1");
  EXPECT_EQ(series_value(text, "ipctrail_semaphores"), "7");
  EXPECT_EQ(series_value(text, "ipctrail_semaphore_arrays"), "1");
  std::string labels = fmt::format(R"({{msqid="{}",key="0x51ec7a11"}})", msqid);
  EXPECT_EQ(series_value(text, "ipctrail_message_queue_messages" + labels), "1") << text;
  EXPECT_EQ(series_value(text, "ipctrail_message_queue_bytes" + labels), "42");
  EXPECT_EQ(series_value(text, "ipctrail_shared_memory_segments"), "1");
  EXPECT_EQ(series_value(text, "ipctrail_shared_memory_bytes"), "65536");
  EXPECT_EQ(series_value(text, R"(ipctrail_limit{name="semmni"})"), "10");
  EXPECT_EQ(series_value(text, R"(ipctrail_limit{name="semmns"})"), "1000");
  EXPECT_EQ(series_value(text, R"(ipctrail_limit{name="shmmax"})"),
            kernel_value("shmmax").substr(0, kernel_value("shmmax").find('\n')));

  testing::CommandResult check = testing::promtool_check_metrics(text);
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_EQ(check.output, "");
}

}  // namespace
}  // namespace ipctrail
