#include "agent/daemon/history_charts.h"

#include "model/charts.h"

namespace ipctrail {

namespace {

bool is_per_queue(std::string_view id) {
  return id == chart_id::kQueueMessages || id == chart_id::kQueueBytes;
}

// Whether the source behind a chart was read in this collection.
bool collected(std::string_view id, const Sample::SourceFaults& faults) {
  if (id == chart_id::kSemaphores || id == chart_id::kSemaphoreArrays) return !faults.semaphores;
  if (is_per_queue(id)) return !faults.queues;
  if (id == chart_id::kShmSegments || id == chart_id::kShmBytes) return !faults.shared_memory;
  return true;
}

void add_chart_records(const Sample& sample, std::vector<ChartRecord>& records) {
  for (Chart& chart : charts_of(sample)) {
    ChartRecord record{std::move(chart), {}};
    record.collected = collected(record.chart.id, sample.faults);
    // charts_of lists queue dimensions in the order of sample.queues.
    if (is_per_queue(record.chart.id) && sample.queues &&
        sample.queues->size() == record.chart.dimensions.size()) {
      record.labels.reserve(sample.queues->size());
      for (const MessageQueue& queue : *sample.queues) {
        record.labels.push_back({queue.key, queue.uid});
      }
    }
    records.push_back(std::move(record));
  }
  Chart limits{chart::kLimits.id, chart::kLimits.units, {}};
  for (const NamedLimit& limit : named_limits(sample.limits)) {
    if (limit.value) limits.dimensions.push_back({std::string(limit.name), *limit.value});
  }
  records.push_back({std::move(limits), {}});
}

}  // namespace

void fill_tick_record(const Sample& sample, std::int64_t interval_ms, TickRecord& tick) {
  tick.ts_ms = sample.ts_ms;
  tick.interval_ms = interval_ms;
  tick.charts.clear();
  add_chart_records(sample, tick.charts);
  tick.objects = sample.objects;
  tick.leak_suspects = sample.leak_suspects;
}

NamespaceTickRecord namespace_tick_record(WatchedNamespace& watched) {
  NamespaceTickRecord record;
  record.identity = watched.identity;
  record.new_incarnation = watched.new_incarnation;
  record.sampled = watched.sample.has_value();
  if (watched.sample) {
    add_chart_records(*watched.sample, record.charts);
    record.objects = std::move(watched.sample->objects);
    record.leak_suspects = watched.sample->leak_suspects;
  }
  return record;
}

}  // namespace ipctrail
