// What the benchmarks share: clocks that tell a program's own work from a loaded machine's
// waiting, percentiles of repeated runs, and the sample of a busy host that the storage benchmarks
// write. One copy here, so that their figures are measured the same way.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "model/sample.h"

namespace ipctrail::bench {

using Clock = std::chrono::steady_clock;

// Wall-clock milliseconds since `started`.
double ms_since(Clock::time_point started);

// This process's CPU time (all threads, user + system) in ms: on a shared, loaded machine the
// wall clock also counts other people's work.
double cpu_ms();

// The machine's load average over 1, 5 and 15 minutes ("6.53 6.87 6.51"), printed beside the
// figures of a run on a shared machine.
std::string load_average();

// The value at `fraction` (0.5 the median, 1 the maximum) of `values`; 0 when empty.
double percentile(std::vector<double> values, double fraction);

// A busy host's sample: 80 arrays of 1,200 semaphores, 40 segments of 4 GiB in all, `queues`
// empty queues, and the limits of a tuned database server.
Sample host_sample(int queues);

}  // namespace ipctrail::bench
