#include "tests/support/incident_history.h"

#include <sys/ipc.h>

#include "model/charts.h"
#include "storage/store.h"
#include "tests/support/alert_transition_support.h"
#include "tests/support/ipc_object_values.h"

namespace ipctrail::testing {

namespace {

std::uint64_t arrays_at(std::int64_t second) {
  if (second < 70) return 0;
  return static_cast<std::uint64_t>(std::min<std::int64_t>(10, (second - 70) / 10 + 1));
}

ProcessIdentity process(std::int32_t pid, const std::string& comm, std::uint64_t cgroup) {
  return {.tgid = pid, .comm = comm, .cgroup_id = cgroup, .ipc_namespace = 1};
}

LifecycleEvent lifecycle(LifecycleAction action, int id, std::int64_t ts_ms,
                         const ProcessIdentity& caller) {
  return {.ts_ms = ts_ms,
          .action = action,
          .kind = IpcKind::kSemaphore,
          .id = id,
          .key = action == LifecycleAction::kCreated ? std::optional<std::int32_t>(IPC_PRIVATE)
                                                     : std::nullopt,
          .flags = action == LifecycleAction::kCreated ? IPC_CREAT | 0600u : 0u,
          .process = caller,
          .tid = caller.tgid,
          .uid = 0};
}

// The objects, lifecycle events and per-process counts of one second of the script (the header's
// "with per-process records").
void add_processes(TickRecord& tick, std::int64_t second, const std::string& leaker_comm) {
  constexpr std::uint64_t kBillingCgroup = 4242;
  constexpr std::uint64_t kUnknownCgroup = 7;
  ProcessTickRecord record;
  record.cgroup_owners = {{kBillingCgroup, kIncidentUnit}};
  std::vector<IpcObject> arrays;
  if (second >= 20 && second < 40)
    arrays.push_back(semaphore_array(50, kIncidentStart / 1000 + 20, 0x99));
  for (std::uint64_t n = 0; n < arrays_at(second); ++n) {
    arrays.push_back(semaphore_array(100 + static_cast<int>(n), kIncidentStart / 1000 + 70 + 10 * n,
                                     IPC_PRIVATE));
  }
  tick.objects.semaphores = arrays;
  std::int64_t event_ms = tick.ts_ms - 500;
  if (second == 20) {
    ProcessIdentity caller = process(4690, leaker_comm, kBillingCgroup);
    record.events.push_back(lifecycle(LifecycleAction::kCreated, 50, event_ms, caller));
    record.calls.push_back({caller, IpcCall::kSemget, std::nullopt, 1});
  }
  if (second == 40) {
    ProcessIdentity caller = process(kIncidentRemoverPid, "ipcrm", kUnknownCgroup);
    record.events.push_back(lifecycle(LifecycleAction::kRemoved, 50, event_ms, caller));
    record.calls.push_back({caller, IpcCall::kSemctl, std::nullopt, 1});
  }
  if (arrays_at(second) != arrays_at(second - 1)) {
    int n = static_cast<int>(arrays_at(second)) - 1;
    ProcessIdentity caller = process(kIncidentLeakerPid + n, leaker_comm, kBillingCgroup);
    record.events.push_back(lifecycle(LifecycleAction::kCreated, 100 + n, event_ms, caller));
    record.calls.push_back({caller, IpcCall::kSemget, std::nullopt, 1});
  }
  if (second >= 161 && second <= 163) {
    ProcessIdentity caller = process(kIncidentFailingPid + static_cast<std::int32_t>(second - 161),
                                     leaker_comm, kBillingCgroup);
    record.calls.push_back({caller, IpcCall::kSemget, ErrnoClass::kENOSPC, 1});
  }
  if (second == 162) {
    record.calls_not_attributed = 2;
    record.events_lost = 1;
  }
  tick.leak_suspects.emplace();
  if (second >= 165) {
    for (const IpcObject& object : arrays) {
      if (object.id >= 100)
        tick.leak_suspects->push_back({IpcKind::kSemaphore, object.id, 0, "creator gone"});
    }
  }
  tick.processes = std::move(record);
}

}  // namespace

void write_incident_history(const std::filesystem::path& path, const IncidentOptions& script) {
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
    if (script.bpf) {
      tick.charts.push_back(
          {Chart{chart_id::kSemaphoreCalls,
                 "calls",
                 {{"semget", std::uint64_t{arrays_at(second) != arrays_at(second - 1) ? 1u : 0u} +
                                 failures}}},
           {}});
    }
    if (script.bpf && second >= 161) {
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
      tick.alert_transitions.push_back(
          transition(tick.ts_ms, "semaphore_arrays_used", "system.ipc_semaphore_arrays", "",
                     AlertStatus::kClear, AlertStatus::kWarning, 90.0,
                     script.hostile_summary.empty() ? "9 of 10 semaphore arrays in use"
                                                    : script.hostile_summary));
    }
    if (second == 160) {
      tick.alert_transitions.push_back(transition(tick.ts_ms, "semaphore_arrays_used",
                                                  "system.ipc_semaphore_arrays", "",
                                                  AlertStatus::kWarning, AlertStatus::kCritical,
                                                  100.0, "10 of 10 semaphore arrays in use"));
    }
    if (script.leaker_comm) add_processes(tick, second, *script.leaker_comm);
    store.write_tick(tick);
  }
}

}  // namespace ipctrail::testing
