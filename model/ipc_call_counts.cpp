#include "model/ipc_call_counts.h"

namespace ipctrail {

namespace {

double per_second(std::uint64_t earlier, std::uint64_t later, double seconds) {
  std::uint64_t delta = later >= earlier ? later - earlier : later;
  return static_cast<double>(delta) / seconds;
}

}  // namespace

IpcCallRates ipc_call_rates(const IpcCallCounts& earlier, const IpcCallCounts& later,
                            std::chrono::duration<double> elapsed) {
  IpcCallRates rates;
  double seconds = elapsed.count();
  if (seconds <= 0) return rates;
  for (std::size_t call = 0; call < kIpcCallCount; ++call) {
    rates.calls[call] = per_second(earlier.calls[call], later.calls[call], seconds);
    for (std::size_t error = 0; error < kErrnoClassCount; ++error) {
      rates.failures[call][error] =
          per_second(earlier.failures[call][error], later.failures[call][error], seconds);
    }
  }
  return rates;
}

}  // namespace ipctrail
