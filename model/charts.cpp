#include "model/charts.h"

#include <fmt/format.h>

namespace ipctrail {

namespace {

Chart empty(const ChartSpec& spec) {
  return Chart{spec.id, spec.units, {}};
}

// A chart with one dimension, named by the table; no dimension when the value was not collected.
Chart single(const ChartSpec& spec, const std::optional<std::uint64_t>& value) {
  Chart chart = empty(spec);
  if (value) chart.dimensions.push_back({std::string(spec.dimension), *value});
  return chart;
}

Chart call_chart(const ChartSpec& spec, const IpcCallCounts& counts, IpcCall first, IpcCall last) {
  Chart chart = empty(spec);
  for (std::size_t call = index_of(first); call <= index_of(last); ++call) {
    chart.dimensions.push_back({std::string(kIpcCallNames[call]), counts.calls[call]});
  }
  return chart;
}

Chart error_chart(const IpcCallActivity& activity) {
  Chart chart = empty(chart::kCallErrors);
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
  charts.push_back(single(chart::kSemaphores, sample.semaphores));
  charts.push_back(single(chart::kSemaphoreArrays, sample.semaphore_arrays));

  Chart messages = empty(chart::kQueueMessages);
  Chart bytes = empty(chart::kQueueBytes);
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

  charts.push_back(single(chart::kShmSegments, sample.shm_segments));
  charts.push_back(single(chart::kShmBytes, sample.shm_bytes));

  if (sample.ipc_calls && sample.ipc_calls->since_previous) {
    const IpcCallCounts& counts = sample.ipc_calls->since_previous->counts;
    charts.push_back(
        call_chart(chart::kSemaphoreCalls, counts, IpcCall::kSemget, IpcCall::kSemctl));
    charts.push_back(call_chart(chart::kQueueCalls, counts, IpcCall::kMsgget, IpcCall::kMsgctl));
    charts.push_back(call_chart(chart::kShmCalls, counts, IpcCall::kShmget, IpcCall::kShmctl));
    charts.push_back(error_chart(*sample.ipc_calls));
  }
  return charts;
}

}  // namespace ipctrail
