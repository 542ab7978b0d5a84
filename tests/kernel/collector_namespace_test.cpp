// The collector against the real kernel, in a private IPC namespace with known objects.
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#include <functional>

#include "agent/collect/collector.h"
#include "tests/support/ipc_namespace.h"

namespace ipctrail {
namespace {

using CollectorNamespace = testing::IpcNamespaceTest;

const MessageQueue* find_queue(const Sample& sample, int msqid) {
  for (const MessageQueue& queue : *sample.queues) {
    if (queue.msqid == msqid) return &queue;
  }
  return nullptr;
}

TEST_F(CollectorNamespace, EmptyNamespaceHasZeroEverywhere) {
  Sample sample = Collector({}).collect();
  EXPECT_EQ(sample.semaphores, 0u);
  EXPECT_EQ(sample.semaphore_arrays, 0u);
  ASSERT_TRUE(sample.queues);
  EXPECT_TRUE(sample.queues->empty());
  EXPECT_EQ(sample.shm_segments, 0u);
  EXPECT_EQ(sample.shm_bytes, 0u);
  EXPECT_EQ(sample.skipped_lines, 0u);
}

TEST_F(CollectorNamespace, CountsEveryChartExactly) {
  create_semaphore_array(1);
  create_semaphore_array(5);
  create_semaphore_array(10);
  int empty_queue = create_queue();
  int busy_queue = create_queue();
  send_message(busy_queue, 100);
  send_message(busy_queue, 250);
  send_message(busy_queue, 1);
  create_segment(4096);
  create_segment(1 << 20);
  create_segment(10);

  Sample sample = Collector({}).collect();
  EXPECT_EQ(sample.semaphores, 16u);
  EXPECT_EQ(sample.semaphore_arrays, 3u);
  ASSERT_TRUE(sample.queues);
  ASSERT_EQ(sample.queues->size(), 2u);
  const MessageQueue* busy = find_queue(sample, busy_queue);
  ASSERT_NE(busy, nullptr);
  EXPECT_EQ(busy->messages, 3u);
  EXPECT_EQ(busy->bytes, 351u);
  EXPECT_EQ(busy->uid, ::getuid());
  EXPECT_EQ(busy->key, 0);  // IPC_PRIVATE
  const MessageQueue* empty = find_queue(sample, empty_queue);
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->messages, 0u);
  EXPECT_EQ(empty->bytes, 0u);
  EXPECT_EQ(sample.shm_segments, 3u);
  EXPECT_EQ(sample.shm_bytes, 4096u + (1u << 20) + 10u);
  std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  EXPECT_EQ(sample.shm_pages, 4096 / page + (1u << 20) / page + 1);
}

TEST_F(CollectorNamespace, KeysAreReadBack) {
  int msqid = ::msgget(0x1234abcd, IPC_CREAT | 0600);
  ASSERT_GE(msqid, 0);
  Sample sample = Collector({}).collect();
  const MessageQueue* queue = find_queue(sample, msqid);
  ASSERT_NE(queue, nullptr);
  EXPECT_EQ(queue->key, 0x1234abcd);
}

TEST_F(CollectorNamespace, ReadsTheNamespaceLimits) {
  set_kernel_value("sem", "250 1000 32 10");
  set_kernel_value("msgmni", "17");
  set_kernel_value("msgmnb", "2048");
  set_kernel_value("msgmax", "1024");
  set_kernel_value("shmmni", "33");
  set_kernel_value("shmall", "123456");
  set_kernel_value("shmmax", "7654321");
  Sample sample = Collector({}).collect();
  EXPECT_EQ(sample.limits.semmsl, 250u);
  EXPECT_EQ(sample.limits.semmns, 1000u);
  EXPECT_EQ(sample.limits.semopm, 32u);
  EXPECT_EQ(sample.limits.semmni, 10u);
  EXPECT_EQ(sample.limits.msgmni, 17u);
  EXPECT_EQ(sample.limits.msgmnb, 2048u);
  EXPECT_EQ(sample.limits.msgmax, 1024u);
  EXPECT_EQ(sample.limits.shmmni, 33u);
  EXPECT_EQ(sample.limits.shmall, 123456u);
  EXPECT_EQ(sample.limits.shmmax, 7654321u);
}

TEST_F(CollectorNamespace, IpcInfoFallbackMatchesProcfs) {
  set_kernel_value("sem", "250 1000 32 10");
  set_kernel_value("msgmni", "17");
  set_kernel_value("shmmni", "33");
  // A procfs root without sys/kernel forces every limit through *ctl(IPC_INFO).
  CollectorOptions options;
  options.procfs_root = std::string(IPCTRAIL_FIXTURES) + "/procfs-none";
  Sample sample = Collector(options).collect();
  EXPECT_EQ(sample.limits.semmni, 10u);
  EXPECT_EQ(sample.limits.semmns, 1000u);
  EXPECT_EQ(sample.limits.msgmni, 17u);
  EXPECT_EQ(sample.limits.shmmni, 33u);
  EXPECT_FALSE(sample.queues);  // and the procfs parts are off, not fabricated
}

TEST_F(CollectorNamespace, LimitsAreRefreshedOnlyWhenDue) {
  set_kernel_value("msgmni", "17");
  Collector collector({});  // default: once a minute
  EXPECT_EQ(collector.collect().limits.msgmni, 17u);
  set_kernel_value("msgmni", "18");
  EXPECT_EQ(collector.collect().limits.msgmni, 17u);

  CollectorOptions every_tick;
  every_tick.limits_refresh = std::chrono::seconds(0);
  Collector eager(every_tick);
  EXPECT_EQ(eager.collect().limits.msgmni, 18u);
  set_kernel_value("msgmni", "19");
  EXPECT_EQ(eager.collect().limits.msgmni, 19u);
}

TEST_F(CollectorNamespace, RemovedObjectsDisappear) {
  int semid = create_semaphore_array(4);
  int kept_semid = create_semaphore_array(2);
  int msqid = create_queue();
  int kept_msqid = create_queue();
  int shmid = create_segment(8192);
  create_segment(4096);
  Collector collector({});
  Sample before = collector.collect();
  EXPECT_EQ(before.semaphores, 6u);
  EXPECT_EQ(before.queues->size(), 2u);
  EXPECT_EQ(before.shm_segments, 2u);

  remove_semaphore_array(semid);
  remove_queue(msqid);
  remove_segment(shmid);
  Sample after = collector.collect();
  EXPECT_EQ(after.semaphores, 2u);
  EXPECT_EQ(after.semaphore_arrays, 1u);
  ASSERT_EQ(after.queues->size(), 1u);
  EXPECT_EQ(after.queues->front().msqid, kept_msqid);
  EXPECT_EQ(after.shm_segments, 1u);
  EXPECT_EQ(after.shm_bytes, 4096u);
  (void)kept_semid;
}

// A collection for another namespace calls `enter` before each step that must run inside it
// (semctl, a table to read or open, a queue's msgctl, the limits). Refused at any one of them, it
// stops there (no later step, no further `enter`) and returns false; the next collection, entered,
// is whole: nothing the refused one began (a capacity, the limits) is taken as done.
TEST_F(CollectorNamespace, ARefusedEntryAtAnyStepAbandonsTheCollection) {
  create_semaphore_array(3);
  int queue = create_queue();
  send_message(queue, 10);
  create_segment(4096);
  set_kernel_value("msgmni", "17");

  CollectorOptions plain, inventory, held;
  inventory.inventory = true;
  held.inventory = true;
  held.keep_tables_open = true;
  for (const CollectorOptions& options : {plain, inventory, held}) {
    SCOPED_TRACE(::testing::Message() << "inventory " << options.inventory << ", tables held "
                                      << options.keep_tables_open);
    std::size_t steps = 0;
    const std::function<bool()> count_steps = [&] {
      ++steps;
      return true;
    };
    Sample whole;
    ASSERT_TRUE(Collector(options).collect(whole, count_steps));
    ASSERT_TRUE(whole.queues && whole.queues->size() == 1);
    EXPECT_GE(steps, 5u) << "semaphores, queues, a queue's capacity, segments, limits";

    for (std::size_t refused_at = 1; refused_at <= steps; ++refused_at) {
      SCOPED_TRACE(::testing::Message() << "refused at step " << refused_at);
      std::size_t calls = 0;
      const std::function<bool()> refuse = [&] { return ++calls != refused_at; };
      Collector collector(options);
      Sample sample;
      EXPECT_FALSE(collector.collect(sample, refuse));
      EXPECT_EQ(calls, refused_at) << "no step after the refusal";

      const std::function<bool()> enter = [] { return true; };
      ASSERT_TRUE(collector.collect(sample, enter));
      EXPECT_EQ(sample.semaphores, 3u);
      EXPECT_EQ(sample.semaphore_arrays, 1u);
      ASSERT_TRUE(sample.queues);
      ASSERT_EQ(sample.queues->size(), 1u);
      EXPECT_EQ(sample.queues->front().messages, 1u);
      EXPECT_EQ(sample.queues->front().capacity_bytes, whole.queues->front().capacity_bytes);
      EXPECT_TRUE(sample.queues->front().capacity_bytes);
      EXPECT_EQ(sample.shm_segments, 1u);
      EXPECT_EQ(sample.shm_bytes, 4096u);
      EXPECT_EQ(sample.limits.msgmni, 17u);
      EXPECT_EQ(sample.limits.semmni, whole.limits.semmni);
      EXPECT_FALSE(sample.faults.any());
      EXPECT_EQ(collector.faulty_collections(), 0u);
    }
  }
}

TEST_F(CollectorNamespace, ManyQueuesAreAllRead) {
  constexpr int kQueues = 2000;
  for (int i = 0; i < kQueues; ++i) {
    int msqid = create_queue();
    if (i % 3 == 0) send_message(msqid, 8);
  }
  Sample sample = Collector({}).collect();
  ASSERT_EQ(sample.queues->size(), static_cast<std::size_t>(kQueues));
  std::uint64_t messages = 0;
  for (const MessageQueue& queue : *sample.queues) messages += queue.messages;
  EXPECT_EQ(messages, static_cast<std::uint64_t>((kQueues + 2) / 3));
  EXPECT_EQ(sample.skipped_lines, 0u);
}

}  // namespace
}  // namespace ipctrail

namespace ipctrail {
namespace {

using CollectorInventory = testing::IpcNamespaceTest;

TEST_F(CollectorInventory, ListsEveryObjectAndKeepsTheChartsExact) {
  int array = create_semaphore_array(7);
  int queue = create_queue();
  send_message(queue, 100);
  send_message(queue, 20);
  int segment = create_segment(10000);

  Sample plain = Collector({}).collect();
  CollectorOptions options;
  options.inventory = true;
  Sample sample = Collector(options).collect();

  // The six charts are the same with the inventory on.
  EXPECT_EQ(sample.semaphores, plain.semaphores);
  EXPECT_EQ(sample.semaphore_arrays, plain.semaphore_arrays);
  EXPECT_EQ(sample.shm_segments, plain.shm_segments);
  EXPECT_EQ(sample.shm_bytes, plain.shm_bytes);
  EXPECT_EQ(sample.shm_pages, plain.shm_pages);
  ASSERT_TRUE(sample.queues && plain.queues);
  ASSERT_EQ(sample.queues->size(), 1u);
  EXPECT_EQ((*sample.queues)[0].messages, 2u);
  EXPECT_EQ((*sample.queues)[0].bytes, 120u);
  EXPECT_EQ((*sample.queues)[0].capacity_bytes, (*plain.queues)[0].capacity_bytes);
  EXPECT_FALSE(plain.objects.semaphores || plain.objects.queues || plain.objects.segments);

  ASSERT_TRUE(sample.objects.semaphores && sample.objects.queues && sample.objects.segments);
  ASSERT_EQ(sample.objects.semaphores->size(), 1u);
  const IpcObject& sem = (*sample.objects.semaphores)[0];
  EXPECT_EQ(sem.id, array);
  EXPECT_EQ(sem.size, 7u);
  EXPECT_EQ(sem.mode, 0600u);
  EXPECT_EQ(sem.uid, ::geteuid());
  EXPECT_GT(sem.ctime, 0);

  ASSERT_EQ(sample.objects.queues->size(), 1u);
  const IpcObject& msg = (*sample.objects.queues)[0];
  EXPECT_EQ(msg.id, queue);
  EXPECT_EQ(msg.qnum, 2u);
  EXPECT_EQ(msg.cbytes, 120u);
  EXPECT_EQ(msg.lspid, ::getpid());

  ASSERT_EQ(sample.objects.segments->size(), 1u);
  const IpcObject& shm = (*sample.objects.segments)[0];
  EXPECT_EQ(shm.id, segment);
  EXPECT_EQ(shm.size, 10000u);
  EXPECT_EQ(shm.cpid, ::getpid());
  EXPECT_EQ(shm.nattch, 0u);
}

TEST_F(CollectorInventory, LeakRulesSwitchedOffFindNoSuspects) {
  create_semaphore_array(1);
  CollectorOptions options;
  options.inventory = true;
  options.leaks.min_age = std::chrono::milliseconds(0);
  options.leaks.ignore_keys = {};
  Sample on = Collector(options).collect();
  ASSERT_TRUE(on.leak_suspects);
  EXPECT_EQ(on.leak_suspects->size(), 1u);  // an array without semop for min_age 0
  options.leaks.enabled = false;
  Sample off = Collector(options).collect();
  EXPECT_FALSE(off.leak_suspects);
  EXPECT_TRUE(off.objects.semaphores);  // the objects themselves are still collected
}

TEST_F(CollectorInventory, OneShotCollectionsLeaveItOut) {
  create_semaphore_array(1);
  CollectorOptions options;
  options.inventory = true;
  options.semaphores = false;
  Sample sample = Collector(options).collect();
  EXPECT_FALSE(sample.objects.semaphores);
  EXPECT_TRUE(sample.objects.queues);
  EXPECT_TRUE(sample.objects.segments);
}

}  // namespace
}  // namespace ipctrail
