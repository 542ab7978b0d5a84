#include "bench/bench_support.h"

#include <time.h>

#include <algorithm>
#include <fstream>

namespace ipctrail::bench {

double ms_since(Clock::time_point started) {
  return std::chrono::duration<double, std::milli>(Clock::now() - started).count();
}

double cpu_ms() {
  timespec now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

std::string load_average() {
  std::ifstream file("/proc/loadavg");
  std::string one, five, fifteen;
  file >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

double percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1))];
}

Sample host_sample(int queues) {
  Sample sample;
  sample.semaphores = 1200;
  sample.semaphore_arrays = 80;
  sample.shm_segments = 40;
  sample.shm_bytes = 4ULL << 30;
  sample.queues.emplace();
  for (int i = 0; i < queues; ++i) {
    MessageQueue queue;
    queue.msqid = i * 32768 + i;
    queue.key = 0x1000 + i;
    queue.uid = 1000;
    sample.queues->push_back(queue);
  }
  sample.limits = {32000,
                   1024000000,
                   500,
                   32000,
                   32000,
                   16384,
                   8192,
                   4096,
                   18446744073692774399ULL,
                   18446744073692774399ULL};
  return sample;
}

}  // namespace ipctrail::bench
