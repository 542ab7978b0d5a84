// The collector reads each queue's msg_qbytes from the real kernel, and only when needed.
#include <sys/ipc.h>
#include <sys/msg.h>

#include <cerrno>
#include <cstring>

#include "agent/collect/collector.h"
#include "tests/support/ipc_namespace.h"

namespace ipctrail {
namespace {

using QueueCapacity = testing::IpcNamespaceTest;

std::optional<std::uint64_t> capacity_of(const Sample& sample, int msqid) {
  for (const MessageQueue& queue : *sample.queues) {
    if (queue.msqid == msqid) return queue.capacity_bytes;
  }
  ADD_FAILURE() << "queue " << msqid << " not collected";
  return std::nullopt;
}

void set_capacity(int msqid, std::uint64_t bytes) {
  msqid_ds settings{};
  ASSERT_EQ(::msgctl(msqid, IPC_STAT, &settings), 0) << std::strerror(errno);
  settings.msg_qbytes = bytes;
  ASSERT_EQ(::msgctl(msqid, IPC_SET, &settings), 0) << std::strerror(errno);
}

TEST_F(QueueCapacity, EachQueueHasItsOwnMsgQbytes) {
  set_kernel_value("msgmnb", "4000");
  int first = create_queue();
  set_kernel_value("msgmnb", "9000");
  int second = create_queue();
  set_capacity(second, 1234);
  Sample sample = Collector({}).collect();
  EXPECT_EQ(capacity_of(sample, first), 4000u);
  EXPECT_EQ(capacity_of(sample, second), 1234u);
}

TEST_F(QueueCapacity, FollowsIpcSetAndNewQueues) {
  Collector collector({});
  int msqid = create_queue();
  Sample sample;
  collector.collect(sample);
  std::uint64_t msgmnb = std::stoull(kernel_value("msgmnb"));
  EXPECT_EQ(capacity_of(sample, msqid), msgmnb);
  set_capacity(msqid, 500);
  collector.collect(sample);
  EXPECT_EQ(capacity_of(sample, msqid), 500u);
  collector.collect(sample);  // from the cache now: still the same answer
  EXPECT_EQ(capacity_of(sample, msqid), 500u);
  remove_queue(msqid);
  int next = create_queue();
  collector.collect(sample);
  EXPECT_EQ(sample.queues->size(), 1u);
  EXPECT_EQ(capacity_of(sample, next), msgmnb);
}

TEST_F(QueueCapacity, OffWhenNotAskedFor) {
  create_queue();
  CollectorOptions options;
  options.queue_capacity = false;
  Sample sample = Collector(options).collect();
  ASSERT_EQ(sample.queues->size(), 1u);
  EXPECT_EQ(sample.queues->front().capacity_bytes, std::nullopt);
}

}  // namespace
}  // namespace ipctrail
