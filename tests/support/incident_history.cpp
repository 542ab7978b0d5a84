#include "tests/support/incident_history.h"

#include "model/charts.h"
#include "storage/store.h"
#include "tests/support/alert_transition_support.h"

namespace ipctrail::testing {

namespace {

std::uint64_t arrays_at(std::int64_t second) {
  if (second < 70) return 0;
  return static_cast<std::uint64_t>(std::min<std::int64_t>(10, (second - 70) / 10 + 1));
}

}  // namespace

void write_incident_history(const std::filesystem::path& path, const std::string& hostile_summary) {
  StoreOptions options;
  options.path = path;
  Store store(options);
  for (std::int64_t second = 0; second <= 400; ++second) {
    if (second >= 200 && second < 220) continue;
    TickRecord tick;
    tick.ts_ms = kIncidentStart + second * 1000;
    tick.interval_ms = 1000;
    std::uint64_t arrays = arrays_at(second);
    tick.charts.push_back(
        {Chart{chart_id::kSemaphores, "semaphores", {{"semaphores", arrays}}}, {}});
    tick.charts.push_back({Chart{chart_id::kSemaphoreArrays, "arrays", {{"arrays", arrays}}}, {}});
    bool spike = second == 100;
    tick.charts.push_back({Chart{chart_id::kQueueMessages,
                                 "messages",
                                 {{"7", std::uint64_t{spike ? 40u : 2u}}, {"8", std::uint64_t{1}}}},
                           {{0x1234, 1000}, {0x5678, 0}}});
    tick.charts.push_back(
        {Chart{chart_id::kQueueBytes,
               "bytes",
               {{"7", std::uint64_t{spike ? 4000u : 100u}}, {"8", std::uint64_t{10}}}},
         {{0x1234, 1000}, {0x5678, 0}}});
    tick.charts.push_back(
        {Chart{chart_id::kShmSegments, "segments", {{"segments", std::uint64_t{1}}}}, {}});
    tick.charts.push_back(
        {Chart{chart_id::kShmBytes, "bytes", {{"bytes", std::uint64_t{8192}}}}, {}});
    std::uint64_t failures = second >= 161 && second <= 163 ? 1 : 0;
    tick.charts.push_back(
        {Chart{chart_id::kSemaphoreCalls,
               "calls",
               {{"semget",
                 std::uint64_t{arrays_at(second) != arrays_at(second - 1) ? 1u : 0u} + failures}}},
         {}});
    if (second >= 161) {
      tick.charts.push_back(
          {Chart{chart_id::kCallErrors, "calls", {{"semget_ENOSPC", failures}}}, {}});
    }
    tick.charts.push_back({Chart{chart_id::kLimits,
                                 "limit",
                                 {{"semmns", std::uint64_t{32000}},
                                  {"semmni", std::uint64_t{10}},
                                  {"msgmni", std::uint64_t{32000}},
                                  {"msgmnb", std::uint64_t{16384}},
                                  {"shmmni", std::uint64_t{4096}},
                                  {"shmall", std::uint64_t{18446744073692774399ull}}}},
                           {}});
    if (second == 0) {
      tick.alert_transitions.push_back(transition(tick.ts_ms, "semaphore_arrays_used",
                                                  "system.ipc_semaphore_arrays", "",
                                                  AlertStatus::kUninitialized, AlertStatus::kClear,
                                                  0.0, "0 of 10 semaphore arrays in use"));
    }
    if (second == 150) {
      tick.alert_transitions.push_back(transition(
          tick.ts_ms, "semaphore_arrays_used", "system.ipc_semaphore_arrays", "",
          AlertStatus::kClear, AlertStatus::kWarning, 90.0,
          hostile_summary.empty() ? "9 of 10 semaphore arrays in use" : hostile_summary));
    }
    if (second == 160) {
      tick.alert_transitions.push_back(transition(tick.ts_ms, "semaphore_arrays_used",
                                                  "system.ipc_semaphore_arrays", "",
                                                  AlertStatus::kWarning, AlertStatus::kCritical,
                                                  100.0, "10 of 10 semaphore arrays in use"));
    }
    store.write_tick(tick);
  }
}

}  // namespace ipctrail::testing
