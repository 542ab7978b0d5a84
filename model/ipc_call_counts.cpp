#include "model/ipc_call_counts.h"

namespace ipctrail {

namespace {

std::uint64_t difference(std::uint64_t earlier, std::uint64_t later) {
  return later >= earlier ? later - earlier : later;
}

}  // namespace

IpcCallCounts ipc_calls_between(const IpcCallCounts& earlier, const IpcCallCounts& later) {
  IpcCallCounts counts;
  for (std::size_t call = 0; call < kIpcCallCount; ++call) {
    counts.calls[call] = difference(earlier.calls[call], later.calls[call]);
    for (std::size_t error = 0; error < kErrnoClassCount; ++error) {
      counts.failures[call][error] =
          difference(earlier.failures[call][error], later.failures[call][error]);
    }
  }
  return counts;
}

IpcCallRates ipc_call_rates(const IpcCallCounts& counts, std::chrono::duration<double> elapsed) {
  IpcCallRates rates;
  double seconds = elapsed.count();
  if (seconds <= 0) return rates;
  for (std::size_t call = 0; call < kIpcCallCount; ++call) {
    rates.calls[call] = static_cast<double>(counts.calls[call]) / seconds;
    for (std::size_t error = 0; error < kErrnoClassCount; ++error) {
      rates.failures[call][error] = static_cast<double>(counts.failures[call][error]) / seconds;
    }
  }
  return rates;
}

}  // namespace ipctrail
