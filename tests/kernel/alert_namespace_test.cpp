// The alert engine on real kernel objects: each walk sets a limit in a private IPC namespace,
// fills it past 80%, backs off through the hysteresis band, and clears, with Collector samples.
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "agent/alerts/alerts.h"
#include "agent/collect/collector.h"
#include "tests/support/ipc_namespace.h"

namespace ipctrail {
namespace {

using std::chrono::seconds;

class AlertWalk : public testing::IpcNamespaceTest {
 protected:
  // One tick ten seconds after the previous: every alert is due each time.
  std::vector<AlertTransition> tick() {
    Sample sample = collector_.collect();
    return engine_.evaluate(sample, AlertEngine::Clock::time_point{} + seconds(10 * ticks_++));
  }

  // The single transition of `alert` this tick, asserting there is exactly one.
  AlertTransition transition_of(const std::vector<AlertTransition>& transitions,
                                std::string_view alert) {
    std::vector<AlertTransition> found;
    for (const AlertTransition& t : transitions) {
      if (t.alert == alert) found.push_back(t);
    }
    EXPECT_EQ(found.size(), 1u) << alert;
    return found.empty() ? AlertTransition{} : found[0];
  }

  bool has_transition(const std::vector<AlertTransition>& transitions, std::string_view alert) {
    for (const AlertTransition& t : transitions) {
      if (t.alert == alert) return true;
    }
    return false;
  }

  AlertStatus status(std::string_view alert, std::string_view instance = "") {
    for (const AlertState& state : engine_.states()) {
      if (state.alert == alert && state.instance == instance) return state.status;
    }
    return AlertStatus::kRemoved;
  }

  // The 9 -> 8 -> 6 walk against a limit of 10: WARNING, still WARNING, CLEAR.
  void walk(std::string_view alert, const std::vector<int>& objects, void (*remove)(int)) {
    auto first = tick();
    AlertTransition raised = transition_of(first, alert);
    EXPECT_EQ(raised.old_status, AlertStatus::kUninitialized);
    EXPECT_EQ(raised.new_status, AlertStatus::kWarning);
    EXPECT_EQ(raised.new_value, 90.0);

    remove(objects[0]);
    EXPECT_FALSE(has_transition(tick(), alert));
    EXPECT_EQ(status(alert), AlertStatus::kWarning);  // 80% is above warn_clear 70

    remove(objects[1]);
    remove(objects[2]);
    AlertTransition cleared = transition_of(tick(), alert);
    EXPECT_EQ(cleared.old_status, AlertStatus::kWarning);
    EXPECT_EQ(cleared.new_status, AlertStatus::kClear);
    EXPECT_EQ(cleared.old_value, 80.0);
    EXPECT_EQ(cleared.new_value, 60.0);
  }

  AlertEngine engine_{Config::default_alerts()};
  Collector collector_{CollectorOptions{}};
  int ticks_ = 0;
};

TEST_F(AlertWalk, SemaphoreArraysAgainstSemmni) {
  set_kernel_value("sem", "250 32000 32 10");
  std::vector<int> arrays;
  for (int i = 0; i < 9; ++i) arrays.push_back(create_semaphore_array(1));
  walk("semaphore_arrays_used", arrays, [](int id) { remove_semaphore_array(id); });
  EXPECT_EQ(status("semaphores_used"), AlertStatus::kClear);  // 6 of 32000
}

TEST_F(AlertWalk, SemaphoresAgainstSemmns) {
  set_kernel_value("sem", "250 100 32 32000");
  std::vector<int> arrays;
  for (int i = 0; i < 9; ++i) arrays.push_back(create_semaphore_array(10));
  walk("semaphores_used", arrays, [](int id) { remove_semaphore_array(id); });
  EXPECT_EQ(status("semaphore_arrays_used"), AlertStatus::kClear);  // 6 of 32000 arrays
}

TEST_F(AlertWalk, QueuesAgainstMsgmni) {
  set_kernel_value("msgmni", "10");
  std::vector<int> queues;
  for (int i = 0; i < 9; ++i) queues.push_back(create_queue());
  walk("message_queues_used", queues, [](int id) { remove_queue(id); });
}

TEST_F(AlertWalk, SegmentsAgainstShmmni) {
  set_kernel_value("shmmni", "10");
  std::vector<int> segments;
  for (int i = 0; i < 9; ++i) segments.push_back(create_segment(4096));
  walk("shared_memory_segments_used", segments, [](int id) { remove_segment(id); });
}

TEST_F(AlertWalk, SharedMemoryPagesAgainstShmall) {
  std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  set_kernel_value("shmall", "100");
  std::vector<int> segments;
  for (int i = 0; i < 9; ++i) segments.push_back(create_segment(10 * page));
  walk("shared_memory_bytes_used", segments, [](int id) { remove_segment(id); });
}

void receive_message(int msqid) {
  std::vector<char> buffer(sizeof(long) + 65536);
  ASSERT_GE(::msgrcv(msqid, buffer.data(), 65536, 0, IPC_NOWAIT), 0) << std::strerror(errno);
}

TEST_F(AlertWalk, AQueueFilledPastItsOwnCapacityThenDrainedThenRemoved) {
  set_kernel_value("msgmnb", "1000");  // new queues get msg_qbytes 1000
  int other = create_queue();
  int msqid = create_queue();
  std::string instance = std::to_string(msqid);
  tick();
  EXPECT_EQ(status("message_queue_bytes_used", instance), AlertStatus::kClear);

  for (int i = 0; i < 9; ++i) send_message(msqid, 100);  // 900 of 1000 bytes
  auto raised = transition_of(tick(), "message_queue_bytes_used");
  EXPECT_EQ(raised.instance, instance);
  EXPECT_EQ(raised.old_status, AlertStatus::kClear);
  EXPECT_EQ(raised.new_status, AlertStatus::kWarning);
  EXPECT_EQ(raised.new_value, 90.0);
  EXPECT_EQ(raised.summary, "queue " + instance + ": 900 of 1000 bytes queued (90% of msg_qbytes)");

  receive_message(msqid);  // 800: still WARNING
  EXPECT_FALSE(has_transition(tick(), "message_queue_bytes_used"));
  EXPECT_EQ(status("message_queue_bytes_used", instance), AlertStatus::kWarning);

  receive_message(msqid);
  receive_message(msqid);  // 600: CLEAR
  auto cleared = transition_of(tick(), "message_queue_bytes_used");
  EXPECT_EQ(cleared.new_status, AlertStatus::kClear);
  EXPECT_EQ(cleared.new_value, 60.0);

  remove_queue(msqid);
  auto removed = transition_of(tick(), "message_queue_bytes_used");
  EXPECT_EQ(removed.instance, instance);
  EXPECT_EQ(removed.old_status, AlertStatus::kClear);
  EXPECT_EQ(removed.new_status, AlertStatus::kRemoved);
  EXPECT_EQ(status("message_queue_bytes_used", instance), AlertStatus::kRemoved);
  EXPECT_EQ(status("message_queue_bytes_used", std::to_string(other)), AlertStatus::kClear);
}

TEST_F(AlertWalk, ShrinkingACapacityWithIpcSetIsSeen) {
  int msqid = create_queue();
  for (int i = 0; i < 6; ++i) send_message(msqid, 100);  // 600 of the default 16384 bytes
  tick();
  EXPECT_EQ(status("message_queue_bytes_used", std::to_string(msqid)), AlertStatus::kClear);
  msqid_ds settings{};
  ASSERT_EQ(::msgctl(msqid, IPC_STAT, &settings), 0);
  settings.msg_qbytes = 700;  // 600 of 700: 85.7%
  ASSERT_EQ(::msgctl(msqid, IPC_SET, &settings), 0) << std::strerror(errno);
  auto raised = transition_of(tick(), "message_queue_bytes_used");
  EXPECT_EQ(raised.new_status, AlertStatus::kWarning);
}

}  // namespace
}  // namespace ipctrail
