// What reading each queue's msg_qbytes costs at 32,000 queues, side by side with the ways it
// could be read, and what the alert engine costs on such a sample. Needs root (a private IPC
// namespace); prints milliseconds per call.
#include <sched.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include "agent/alerts/alerts.h"
#include "agent/collect/collector.h"

namespace {

using namespace ipctrail;

double milliseconds_per_run(int runs, const std::function<void()>& body) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < runs; ++i) body();
  std::chrono::duration<double, std::milli> spent = std::chrono::steady_clock::now() - start;
  return spent.count() / runs;
}

}  // namespace

int main() {
  if (::unshare(CLONE_NEWIPC) != 0) {
    std::perror("unshare(CLONE_NEWIPC) (run as root)");
    return 1;
  }
  constexpr int kQueues = 32000;
  std::vector<int> ids;
  for (int i = 0; i < kQueues; ++i) {
    int id = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (id < 0) {
      std::perror("msgget");
      return 1;
    }
    ids.push_back(id);
  }
  constexpr int kRuns = 5;
  std::printf("%d message queues, mean of %d runs\n", kQueues, kRuns);

  CollectorOptions without;
  without.queue_capacity = false;
  Collector plain(without);
  Sample sample;
  double base = milliseconds_per_run(kRuns, [&] { plain.collect(sample); });
  std::printf("  collect, no msg_qbytes                          %8.2f ms\n", base);

  double cold = 0;
  double warm = 0;
  {
    Collector with({});
    cold = milliseconds_per_run(1, [&] { with.collect(sample); });
    with.collect(sample);  // past the second in which the first read happened, usually
    warm = milliseconds_per_run(kRuns, [&] { with.collect(sample); });
  }
  std::printf("  collect, msg_qbytes, first tick (all read)       %8.2f ms\n", cold);
  std::printf("  collect, msg_qbytes, steady (ctime cache)        %8.2f ms\n", warm);

  double ipc_stat = milliseconds_per_run(kRuns, [&] {
    for (int id : ids) {
      msqid_ds status{};
      ::msgctl(id, IPC_STAT, &status);
    }
  });
  std::printf("  reference: msgctl(IPC_STAT) on every queue      %8.2f ms\n", ipc_stat);
  double stat_any = milliseconds_per_run(kRuns, [&] {
    msginfo info{};
    int highest = ::msgctl(0, MSG_INFO, reinterpret_cast<msqid_ds*>(&info));
    for (int index = 0; index <= highest; ++index) {
      msqid_ds status{};
      ::msgctl(index, MSG_STAT_ANY, &status);
    }
  });
  std::printf("  reference: msgctl(MSG_STAT_ANY) over indexes     %8.2f ms\n", stat_any);

  Collector with({});
  with.collect(sample);
  AlertEngine engine(Config::default_alerts());
  auto now = AlertEngine::Clock::time_point{};
  double first = milliseconds_per_run(1, [&] { engine.evaluate(sample, now); });
  double evaluate = milliseconds_per_run(kRuns, [&] {
    now += std::chrono::seconds(10);
    engine.evaluate(sample, now);
  });
  std::printf("  alert engine, first evaluation (32,000 instances) %7.2f ms\n", first);
  std::printf("  alert engine, each later evaluation              %8.2f ms\n", evaluate);
  return 0;
}
