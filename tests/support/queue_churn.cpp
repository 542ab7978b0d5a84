#include "tests/support/queue_churn.h"

#include <sys/msg.h>

#include <random>
#include <vector>

namespace ipctrail::testing {

QueueChurn::QueueChurn(int queues, int remove_one_in, std::chrono::microseconds pause)
    : thread_([this, queues, remove_one_in, pause] { run(queues, remove_one_in, pause); }) {}

QueueChurn::~QueueChurn() {
  stop_ = true;
  thread_.join();
}

void QueueChurn::run(int queues, int remove_one_in, std::chrono::microseconds pause) {
  std::mt19937 random(7);
  std::vector<int> ids;
  struct {
    long type = 1;
    char text[64] = {};
  } message;
  while (!stop_) {
    if (std::ssize(ids) < queues) {
      int id = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
      if (id >= 0) ids.push_back(id);
    }
    if (!ids.empty()) {
      int id = ids[random() % ids.size()];
      if (random() % 4 == 0) {
        ::msgrcv(id, &message, sizeof message.text, 0, IPC_NOWAIT);
      } else {
        ::msgsnd(id, &message, 1 + random() % sizeof message.text, IPC_NOWAIT);
      }
      if (random() % static_cast<unsigned>(remove_one_in) == 0) {
        ::msgctl(ids.front(), IPC_RMID, nullptr);
        ids.erase(ids.begin());
        ++removed_;
      }
    }
    if (pause.count() > 0) std::this_thread::sleep_for(pause);
  }
  for (int id : ids) ::msgctl(id, IPC_RMID, nullptr);
}

}  // namespace ipctrail::testing
