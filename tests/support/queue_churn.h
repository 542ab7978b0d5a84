// Test support: message queues that come and go and fill up while an agent samples, from a thread
// of the test process (which shares the test's private IPC namespace with the agent it started).
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

namespace ipctrail::testing {

class QueueChurn {
 public:
  // Keeps up to `queues` queues; each round sends to or receives from one, and removes the oldest
  // queue one round in `remove_one_in`, then pauses for `pause` (zero: as fast as it can).
  explicit QueueChurn(int queues, int remove_one_in = 50,
                      std::chrono::microseconds pause = std::chrono::milliseconds(1));
  ~QueueChurn();  // stops and removes its queues
  QueueChurn(const QueueChurn&) = delete;
  QueueChurn& operator=(const QueueChurn&) = delete;

  // Queues removed so far.
  std::uint64_t removed() const { return removed_; }

 private:
  void run(int queues, int remove_one_in, std::chrono::microseconds pause);

  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> removed_{0};
  std::thread thread_;
};

}  // namespace ipctrail::testing
