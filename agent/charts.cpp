#include "agent/charts.h"

namespace ipctrail {

namespace {

std::vector<Dimension> single(std::string_view name, const std::optional<std::uint64_t>& value) {
  if (!value) return {};
  return {Dimension{std::string(name), *value}};
}

}  // namespace

std::vector<Chart> charts_of(const Sample& sample) {
  std::vector<Chart> charts;
  charts.reserve(6);
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
  return charts;
}

}  // namespace ipctrail
