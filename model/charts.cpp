#include "model/charts.h"

#include <fmt/format.h>

namespace ipctrail {

namespace {

std::vector<Dimension> single(std::string_view name, const std::optional<std::uint64_t>& value) {
  if (!value) return {};
  return {Dimension{std::string(name), *value}};
}

Chart call_chart(std::string_view id, const IpcCallCounts& counts, IpcCall first, IpcCall last) {
  Chart chart{id, kCallsUnits, {}};
  for (std::size_t call = index_of(first); call <= index_of(last); ++call) {
    chart.dimensions.push_back({std::string(kIpcCallNames[call]), counts.calls[call]});
  }
  return chart;
}

Chart error_chart(const IpcCallActivity& activity) {
  Chart chart{chart_id::kCallErrors, kCallsUnits, {}};
  for (std::size_t call = 0; call < kIpcCallCount; ++call) {
    for (std::size_t error = 0; error < kErrnoClassCount; ++error) {
      if (activity.totals.failures[call][error] == 0) continue;
      chart.dimensions.push_back(
          {fmt::format("{}_{}", kIpcCallNames[call], kErrnoClassNames[error]),
           activity.since_previous->counts.failures[call][error]});
    }
  }
  return chart;
}

}  // namespace

bool is_calls_per_tick(std::string_view id) {
  return id == chart_id::kSemaphoreCalls || id == chart_id::kQueueCalls ||
         id == chart_id::kShmCalls || id == chart_id::kCallErrors;
}

std::vector<Chart> charts_of(const Sample& sample) {
  std::vector<Chart> charts;
  charts.reserve(10);
  charts.push_back({chart_id::kSemaphores, "semaphores", single("semaphores", sample.semaphores)});
  charts.push_back(
      {chart_id::kSemaphoreArrays, "arrays", single("arrays", sample.semaphore_arrays)});

  Chart messages{chart_id::kQueueMessages, "messages", {}};
  Chart bytes{chart_id::kQueueBytes, "bytes", {}};
  if (sample.queues) {
    messages.dimensions.reserve(sample.queues->size());
    bytes.dimensions.reserve(sample.queues->size());
    for (const MessageQueue& queue : *sample.queues) {
      std::string name = std::to_string(queue.msqid);
      messages.dimensions.push_back({name, queue.messages});
      bytes.dimensions.push_back({std::move(name), queue.bytes});
    }
  }
  charts.push_back(std::move(messages));
  charts.push_back(std::move(bytes));

  charts.push_back({chart_id::kShmSegments, "segments", single("segments", sample.shm_segments)});
  charts.push_back({chart_id::kShmBytes, "bytes", single("bytes", sample.shm_bytes)});

  if (sample.ipc_calls && sample.ipc_calls->since_previous) {
    const IpcCallCounts& counts = sample.ipc_calls->since_previous->counts;
    charts.push_back(
        call_chart(chart_id::kSemaphoreCalls, counts, IpcCall::kSemget, IpcCall::kSemctl));
    charts.push_back(call_chart(chart_id::kQueueCalls, counts, IpcCall::kMsgget, IpcCall::kMsgctl));
    charts.push_back(call_chart(chart_id::kShmCalls, counts, IpcCall::kShmget, IpcCall::kShmctl));
    charts.push_back(error_chart(*sample.ipc_calls));
  }
  return charts;
}

}  // namespace ipctrail
