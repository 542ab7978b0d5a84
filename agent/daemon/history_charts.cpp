#include "agent/daemon/history_charts.h"

#include "model/charts.h"

namespace ipctrail {

namespace {

bool is_per_queue(std::string_view id) {
  return id == chart_id::kQueueMessages || id == chart_id::kQueueBytes;
}

}  // namespace

void fill_tick_record(const Sample& sample, std::int64_t interval_ms, TickRecord& tick) {
  tick.ts_ms = sample.ts_ms;
  tick.interval_ms = interval_ms;
  tick.charts.clear();
  for (Chart& chart : charts_of(sample)) {
    ChartRecord record{std::move(chart), {}};
    // charts_of lists queue dimensions in the order of sample.queues.
    if (is_per_queue(record.chart.id) && sample.queues &&
        sample.queues->size() == record.chart.dimensions.size()) {
      record.labels.reserve(sample.queues->size());
      for (const MessageQueue& queue : *sample.queues) {
        record.labels.push_back({queue.key, queue.uid});
      }
    }
    tick.charts.push_back(std::move(record));
  }
  Chart limits{chart_id::kLimits, "limit", {}};
  for (const NamedLimit& limit : named_limits(sample.limits)) {
    if (limit.value) limits.dimensions.push_back({std::string(limit.name), *limit.value});
  }
  tick.charts.push_back({std::move(limits), {}});
  tick.objects = sample.objects;
  tick.leak_suspects = sample.leak_suspects;
}

}  // namespace ipctrail
