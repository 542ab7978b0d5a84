#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

#include "model/charts.h"
#include "model/sample.h"
#include "model/time_text.h"
#include "report/report.h"

namespace ipctrail {

namespace {

std::optional<double> as_double(const std::optional<StoredValue>& value) {
  if (!value) return std::nullopt;
  if (const auto* integer = std::get_if<std::int64_t>(&*value)) {
    return static_cast<double>(*integer);
  }
  return std::get<double>(*value);
}

// The rows of one series as levels, the value in effect at `since` placed at `since`.
std::vector<Level> levels_of(const std::vector<Point>& points, std::int64_t since_ms) {
  std::vector<Level> levels;
  levels.reserve(points.size());
  for (const Point& point : points) {
    levels.push_back({std::max(point.ts_ms, since_ms), as_double(point.value)});
  }
  return levels;
}

// Unknown while no span covers the time: a level of nullopt at each gap's start. Every span's
// first tick writes every value again, so each gap's end already has its levels.
std::vector<Level> masked_by_gaps(std::vector<Level> levels, const std::vector<Gap>& gaps) {
  for (const Gap& gap : gaps) levels.push_back({gap.from_ms, std::nullopt});
  std::stable_sort(levels.begin(), levels.end(),
                   [](const Level& a, const Level& b) { return a.ts_ms < b.ts_ms; });
  // At equal times the later-written level holds; drop the earlier ones.
  std::vector<Level> merged;
  for (const Level& level : levels) {
    if (!merged.empty() && merged.back().ts_ms == level.ts_ms) {
      merged.back() = level;
    } else {
      merged.push_back(level);
    }
  }
  return merged;
}

// A sum over series has no row of its own at a span's start when no series is there (no
// queues): its value there is the one it had, restated so that the gap before it ends.
std::vector<Level> restated_at_span_starts(const std::vector<Level>& levels,
                                           const std::vector<Span>& spans) {
  std::vector<Level> restated;
  restated.reserve(levels.size() + spans.size());
  std::size_t next = 0;
  for (const Span& span : spans) {
    while (next < levels.size() && levels[next].ts_ms < span.start_ms) {
      restated.push_back(levels[next++]);
    }
    bool has_row = next < levels.size() && levels[next].ts_ms == span.start_ms;
    if (!has_row && !restated.empty()) restated.push_back({span.start_ms, restated.back().value});
  }
  restated.insert(restated.end(), levels.begin() + static_cast<std::ptrdiff_t>(next), levels.end());
  return restated;
}

Coverage coverage_of(const std::vector<Span>& spans, std::int64_t since_ms, std::int64_t until_ms) {
  Coverage coverage;
  std::int64_t covered_to = since_ms;
  for (const Span& span : spans) {
    Span clipped{std::max(span.start_ms, since_ms), std::min(span.last_ms, until_ms),
                 span.interval_ms};
    std::int64_t end_ms = std::min(span.last_ms + span.interval_ms, until_ms);
    if (clipped.start_ms > covered_to) coverage.gaps.push_back({covered_to, clipped.start_ms});
    if (end_ms > covered_to) {
      coverage.sampled_ms += end_ms - std::max(covered_to, clipped.start_ms);
      covered_to = end_ms;
    }
    coverage.spans.push_back(clipped);
  }
  if (covered_to < until_ms) coverage.gaps.push_back({covered_to, until_ms});
  return coverage;
}

// The sum of every series of a per-queue chart (or how many have a value), as levels.
std::vector<Level> total_of(const std::vector<SeriesPoints>& all, std::int64_t since_ms,
                            bool count_series) {
  struct Change {
    std::int64_t ts_ms;
    std::size_t series;
    std::optional<double> value;
  };
  std::vector<Change> changes;
  for (std::size_t series = 0; series < all.size(); ++series) {
    for (const Point& point : all[series].points) {
      changes.push_back({std::max(point.ts_ms, since_ms), series, as_double(point.value)});
    }
  }
  // (ts, series) is unique: the points table's key, and one row per series clamped to `since`.
  std::sort(changes.begin(), changes.end(), [](const Change& a, const Change& b) {
    return a.ts_ms != b.ts_ms ? a.ts_ms < b.ts_ms : a.series < b.series;
  });
  std::vector<std::optional<double>> current(all.size());
  double total = 0;
  std::vector<Level> levels{{since_ms, 0.0}};
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const Change& change = changes[i];
    auto contribution = [count_series](const std::optional<double>& value) {
      if (!value) return 0.0;
      return count_series ? 1.0 : *value;
    };
    total += contribution(change.value) - contribution(current[change.series]);
    current[change.series] = change.value;
    if (i + 1 < changes.size() && changes[i + 1].ts_ms == change.ts_ms) continue;
    // A level at every change time, even an unchanged total: the first tick after a gap
    // re-establishes the value there.
    if (levels.back().ts_ms == change.ts_ms) {
      levels.back().value = total;
    } else {
      levels.push_back({change.ts_ms, total});
    }
  }
  return levels;
}

// A stored limit as a number to compare with, or nullopt for none (unknown, 0, or the kernel's
// "unlimited", which the store keeps as INT64_MAX).
std::vector<Level> limit_levels(const std::vector<SeriesPoints>& limits, const std::string& name,
                                double scale, std::int64_t since_ms) {
  std::vector<Level> levels;
  for (const SeriesPoints& rows : limits) {
    if (rows.series.dimension != name) continue;
    for (Level level : levels_of(rows.points, since_ms)) {
      if (level.value &&
          (*level.value <= 0 || *level.value >= static_cast<double>(kUnlimitedFrom) / 2)) {
        level.value = std::nullopt;
      } else if (level.value) {
        *level.value *= scale;
      }
      levels.push_back(level);
    }
  }
  return levels;
}

// The resource's facts from its levels and its limit's.
void analyse_levels(ResourceReport& resource, std::int64_t since_ms, std::int64_t until_ms) {
  const std::vector<Level>& levels = resource.levels;
  resource.start = value_at(levels, since_ms);
  resource.end = value_at(levels, until_ms);
  std::optional<std::size_t> peak_index;
  for (std::size_t i = 0; i < levels.size(); ++i) {
    if (levels[i].value && (!resource.peak || *levels[i].value > *resource.peak)) {
      resource.peak = levels[i].value;
      resource.peak_ms = levels[i].ts_ms;
      peak_index = i;
    }
  }
  for (auto it = resource.limit_levels.rbegin(); it != resource.limit_levels.rend(); ++it) {
    if (it->value) {
      resource.limit = it->value;
      break;
    }
  }
  // Percent and the limit's first reach, at every time either side changes: a merge of the two
  // sorted step functions.
  const std::vector<Level>& limits = resource.limit_levels;
  std::optional<double> value, limit;
  for (std::size_t v = 0, l = 0; v < levels.size() || l < limits.size();) {
    std::int64_t ts_ms = std::min(v < levels.size() ? levels[v].ts_ms : INT64_MAX,
                                  l < limits.size() ? limits[l].ts_ms : INT64_MAX);
    while (v < levels.size() && levels[v].ts_ms == ts_ms) value = levels[v++].value;
    while (l < limits.size() && limits[l].ts_ms == ts_ms) limit = limits[l++].value;
    if (!value || !limit) continue;
    double percent = *value * 100.0 / *limit;
    if (!resource.peak_percent || percent > *resource.peak_percent) resource.peak_percent = percent;
    if (!resource.limit_reached_ms && *value >= *limit) resource.limit_reached_ms = ts_ms;
  }
  // The fastest rise over one minute (or since the window's start, within its first minute),
  // ending at a change; `before` trails a minute behind.
  std::size_t before = 0;
  std::optional<double> value_before;
  for (const Level& level : levels) {
    std::int64_t from_ms = std::max(since_ms, level.ts_ms - kLastMinuteMs);
    while (before < levels.size() && levels[before].ts_ms <= from_ms) {
      value_before = levels[before++].value;
    }
    if (!level.value || !value_before) continue;
    double growth = *level.value - *value_before;
    if (growth > 0 &&
        (!resource.fastest_growth_per_minute || growth > *resource.fastest_growth_per_minute)) {
      resource.fastest_growth_per_minute = growth;
      resource.fastest_growth_ms = level.ts_ms;
    }
  }
  // Growth started at the first rise after the last time the value sat at its low before the
  // peak.
  if (peak_index) {
    std::optional<std::size_t> low;
    for (std::size_t i = 0; i <= *peak_index; ++i) {
      if (levels[i].value && (!low || *levels[i].value <= *levels[*low].value)) low = i;
    }
    if (low && *levels[*low].value < *resource.peak) {
      for (std::size_t i = *low + 1; i <= *peak_index; ++i) {
        if (levels[i].value && *levels[i].value > *levels[*low].value) {
          resource.growth_started_ms = levels[i].ts_ms;
          break;
        }
      }
    }
  }
}

struct ResourceSpec {
  const char* id;
  const char* title;
  const char* units;
  const char* limit_name;
  std::vector<std::string> failures;
};

// Which of our resources an alert watches: by its chart, else by its name (alerts on the same
// resource share the resource's words: semaphore_arrays_used, semaphore_arrays_exhaustion).
std::string resource_of_alert(const std::string& alert, const std::string& chart) {
  static const std::vector<std::pair<std::string_view, const char*>> kByChart = {
      {chart_id::kSemaphores, "semaphores"}, {chart_id::kSemaphoreArrays, "arrays"},
      {chart_id::kQueueMessages, "queues"},  {chart_id::kQueueBytes, "queued_bytes"},
      {chart_id::kShmSegments, "segments"},  {chart_id::kShmBytes, "shm_pages"},
  };
  static const std::vector<std::pair<std::string_view, const char*>> kByName = {
      {"semaphore_arrays", "arrays"},          {"semaphores", "semaphores"},
      {"message_queue_bytes", "queued_bytes"}, {"message_queues", "queues"},
      {"shared_memory_segments", "segments"},  {"shared_memory", "shm_pages"},
  };
  for (const auto& [prefix, resource] : kByName) {
    if (alert.starts_with(prefix)) return resource;
  }
  for (const auto& [id, resource] : kByChart) {
    if (chart == id) return resource;
  }
  return "";
}

std::vector<FailureReport> failures_of(const std::vector<SeriesPoints>& error_rows,
                                       const std::vector<Span>& spans, std::int64_t since_ms,
                                       std::int64_t until_ms) {
  std::vector<FailureReport> failures;
  for (SeriesCountRuns& found : count_runs(error_rows, spans, since_ms, until_ms)) {
    FailureReport failure;
    failure.dimension = found.series.dimension;
    std::size_t split = failure.dimension.find('_');
    failure.call = failure.dimension.substr(0, split);
    failure.error = split == std::string::npos ? "" : failure.dimension.substr(split + 1);
    // A dimension may have several series (a new one after an end marker): merge them.
    auto same = std::find_if(failures.begin(), failures.end(), [&](const FailureReport& other) {
      return other.dimension == failure.dimension;
    });
    FailureReport& into =
        same == failures.end() ? failures.emplace_back(std::move(failure)) : *same;
    for (const CountRun& run : found.runs) {
      if (into.runs.empty() || run.first_tick_ms < into.first_ms) into.first_ms = run.first_tick_ms;
      into.last_ms = std::max(into.last_ms, run.last_tick_ms);
      into.count += run.total();
      into.runs.push_back(run);
    }
  }
  std::sort(failures.begin(), failures.end(), [](const FailureReport& a, const FailureReport& b) {
    return a.first_ms != b.first_ms ? a.first_ms < b.first_ms : a.dimension < b.dimension;
  });
  return failures;
}

bool is_raised(AlertStatus status) {
  return status == AlertStatus::kWarning || status == AlertStatus::kCritical ||
         status == AlertStatus::kRaised;
}

std::vector<AlertBand> bands_of(HistoryReader& reader, const std::vector<AlertRecord>& in_window,
                                std::int64_t since_ms, std::int64_t until_ms) {
  std::vector<AlertBand> bands;
  std::map<std::pair<std::string, std::string>, AlertBand> open;
  auto change = [&](const AlertRecord& record, std::int64_t at_ms) {
    auto key = std::make_pair(record.alert, record.instance);
    auto found = open.find(key);
    if (found != open.end()) {
      found->second.to_ms = at_ms;
      if (found->second.to_ms > found->second.from_ms) bands.push_back(found->second);
      open.erase(found);
    }
    if (is_raised(record.new_status)) {
      open[key] = {
          record.alert,      record.instance, resource_of_alert(record.alert, record.chart),
          record.new_status, at_ms,           until_ms};
    }
  };
  for (const AlertRecord& record : reader.alert_states_at(since_ms - 1)) change(record, since_ms);
  for (const AlertRecord& record : in_window) change(record, record.ts_ms);
  for (auto& [key, band] : open) bands.push_back(band);
  std::sort(bands.begin(), bands.end(),
            [](const AlertBand& a, const AlertBand& b) { return a.from_ms < b.from_ms; });
  return bands;
}

}  // namespace

std::optional<double> value_at(const std::vector<Level>& levels, std::int64_t ts_ms) {
  auto after =
      std::upper_bound(levels.begin(), levels.end(), ts_ms,
                       [](std::int64_t ts, const Level& level) { return ts < level.ts_ms; });
  if (after == levels.begin()) return std::nullopt;
  return std::prev(after)->value;
}

Report analyse_history(HistoryReader& reader, const std::string& file, std::int64_t since_ms,
                       std::int64_t until_ms) {
  if (until_ms <= since_ms) {
    throw ReportError(fmt::format("the window is empty: --until {} is not after --since {}",
                                  iso8601_utc(until_ms), iso8601_utc(since_ms)));
  }
  Report report;
  report.file = file;
  report.since_ms = since_ms;
  report.until_ms = until_ms;
  std::vector<Span> spans = reader.spans_between(since_ms, until_ms);
  std::erase_if(spans, [&](const Span& span) {
    return span.last_ms + span.interval_ms <= since_ms || span.start_ms > until_ms;
  });
  if (spans.empty()) {
    throw ReportError(
        fmt::format("{} has no samples between {} and {}: the agent was not "
                    "recording then (see `ipctrail query` for the spans it holds)",
                    file, iso8601_utc(since_ms), iso8601_utc(until_ms)));
  }
  report.coverage = coverage_of(spans, since_ms, until_ms);

  // One pass over the window's rows for every chart the report reads (a day at one second is
  // millions of rows: a pass per chart would read them a dozen times).
  std::map<std::string, std::vector<SeriesPoints>> charts = reader.changes_of_charts(
      {std::string(chart_id::kSemaphores), std::string(chart_id::kSemaphoreArrays),
       std::string(chart_id::kQueueMessages), std::string(chart_id::kQueueBytes),
       std::string(chart_id::kShmSegments), std::string(chart_id::kShmBytes),
       std::string(chart_id::kSemaphoreCalls), std::string(chart_id::kQueueCalls),
       std::string(chart_id::kShmCalls), std::string(chart_id::kCallErrors),
       std::string(chart_id::kLimits)},
      since_ms, until_ms);
  auto rows_of = [&charts](std::string_view chart) -> const std::vector<SeriesPoints>& {
    return charts[std::string(chart)];
  };
  report.failures = failures_of(rows_of(chart_id::kCallErrors), spans, since_ms, until_ms);
  for (const std::string_view chart :
       {chart_id::kSemaphoreCalls, chart_id::kQueueCalls, chart_id::kShmCalls}) {
    if (!rows_of(chart).empty()) report.calls_recorded = true;
  }

  const double page_size = static_cast<double>(::sysconf(_SC_PAGESIZE));
  auto single = [&](std::string_view chart, std::string_view dimension) {
    std::vector<Level> levels;
    for (const SeriesPoints& series : rows_of(chart)) {
      if (series.series.dimension != dimension) continue;
      std::vector<Level> more = levels_of(series.points, since_ms);
      levels.insert(levels.end(), more.begin(), more.end());
    }
    return levels;
  };
  const std::vector<SeriesPoints>& queue_messages = rows_of(chart_id::kQueueMessages);
  const std::vector<SeriesPoints>& queue_bytes = rows_of(chart_id::kQueueBytes);
  const std::vector<SeriesPoints>& limits = rows_of(chart_id::kLimits);
  std::vector<Level> shm_bytes = single(chart_id::kShmBytes, chart::kShmBytes.dimension);
  std::vector<Level> shm_pages = shm_bytes;
  for (Level& level : shm_pages) {
    if (level.value) level.value = std::ceil(*level.value / page_size);
  }

  const std::vector<std::string> sem_failures = {"semget_ENOSPC"};
  const std::vector<std::string> queue_failures = {"msgget_ENOSPC"};
  const std::vector<std::string> send_failures = {"msgsnd_EAGAIN"};
  const std::vector<std::string> shm_failures = {"shmget_ENOSPC", "shmget_ENOMEM"};
  struct Built {
    ResourceSpec spec;
    std::vector<Level> levels;
    double limit_scale;
    std::string note;
  };
  std::vector<Built> built;
  built.push_back({{"semaphores", "Semaphores", "semaphores", "semmns", sem_failures},
                   single(chart_id::kSemaphores, chart::kSemaphores.dimension),
                   1,
                   ""});
  built.push_back({{"arrays", "Semaphore arrays", "arrays", "semmni", sem_failures},
                   single(chart_id::kSemaphoreArrays, chart::kSemaphoreArrays.dimension),
                   1,
                   ""});
  built.push_back(
      {{"queues", "Message queues", "queues", "msgmni", queue_failures},
       restated_at_span_starts(total_of(queue_messages, since_ms, true), report.coverage.spans),
       1,
       ""});
  built.push_back(
      {{"queued_messages", "Queued messages", "messages", "", send_failures},
       restated_at_span_starts(total_of(queue_messages, since_ms, false), report.coverage.spans),
       1,
       "no system-wide limit: each queue holds up to its msg_qbytes bytes"});
  built.push_back(
      {{"queued_bytes", "Queued bytes", "bytes", "", send_failures},
       restated_at_span_starts(total_of(queue_bytes, since_ms, false), report.coverage.spans),
       1,
       "no system-wide limit: each queue holds up to its msg_qbytes bytes (msgmnb "
       "unless resized); see the fullest queues"});
  built.push_back({{"segments", "Shared memory segments", "segments", "shmmni", shm_failures},
                   single(chart_id::kShmSegments, chart::kShmSegments.dimension),
                   1,
                   ""});
  built.push_back({{"shm_bytes", "Shared memory bytes", "bytes", "shmall", shm_failures},
                   shm_bytes,
                   page_size,
                   fmt::format("limit: shmall x the page size ({} bytes)", page_size)});
  built.push_back({{"shm_pages", "Shared memory pages", "pages", "shmall", shm_failures},
                   shm_pages,
                   1,
                   fmt::format("pages: the total bytes over the page size ({} bytes), rounded up; "
                               "the kernel rounds each segment up, so this is a lower bound",
                               page_size)});
  for (Built& item : built) {
    ResourceReport& resource = report.resources.emplace_back();
    resource.id = item.spec.id;
    resource.title = item.spec.title;
    resource.units = item.spec.units;
    resource.limit_name = item.spec.limit_name;
    resource.limit_note = item.note;
    resource.failures = item.spec.failures;
    resource.levels = masked_by_gaps(std::move(item.levels), report.coverage.gaps);
    if (!resource.limit_name.empty()) {
      resource.limit_levels =
          masked_by_gaps(limit_levels(limits, resource.limit_name, item.limit_scale, since_ms),
                         report.coverage.gaps);
    }
    analyse_levels(resource, since_ms, until_ms);
  }

  // Alert transitions, and how long before its resource's first failure each raise came.
  std::vector<AlertRecord> in_window = reader.alert_transitions(since_ms, until_ms);
  for (const AlertRecord& record : in_window) {
    TransitionReport& transition = report.transitions.emplace_back();
    transition.record = record;
    transition.resource = resource_of_alert(record.alert, record.chart);
    if (!is_raised(record.new_status)) continue;
    std::vector<std::string> related;
    for (const ResourceReport& resource : report.resources) {
      if (resource.id == transition.resource) related = resource.failures;
    }
    for (const FailureReport& failure : report.failures) {
      if (failure.dimension == record.instance) related = {record.instance};
    }
    for (const FailureReport& failure : report.failures) {
      if (std::find(related.begin(), related.end(), failure.dimension) == related.end()) continue;
      if (!transition.first_failure_ms || failure.first_ms < *transition.first_failure_ms) {
        transition.first_failure = failure.dimension;
        transition.first_failure_ms = failure.first_ms;
        transition.lead_ms = failure.first_ms - record.ts_ms;
      }
    }
  }
  report.bands = bands_of(reader, in_window, since_ms, until_ms);

  for (const ObjectEvent& event : reader.object_events(since_ms, until_ms)) {
    KindCounts* counts = event.event == "created"   ? &report.created
                         : event.event == "removed" ? &report.removed
                                                    : nullptr;
    if (counts == nullptr) continue;
    if (event.kind == IpcKind::kSemaphore) ++counts->semaphore_arrays;
    if (event.kind == IpcKind::kQueue) ++counts->queues;
    if (event.kind == IpcKind::kSharedMemory) ++counts->segments;
  }
  for (StoredObject& stored : reader.objects_at(until_ms)) {
    if (stored.leak_reason) report.leak_suspects.push_back(std::move(stored));
  }

  std::optional<double> msgmnb;
  for (const Level& level : limit_levels(limits, "msgmnb", 1, since_ms)) {
    if (level.value) msgmnb = level.value;
  }
  // A queue's messages series, by msqid (a reused msqid has one series per incarnation).
  std::unordered_multimap<std::string, const SeriesPoints*> messages_of;
  for (const SeriesPoints& messages : queue_messages) {
    messages_of.emplace(messages.series.dimension, &messages);
  }
  for (const SeriesPoints& series : queue_bytes) {
    std::vector<Level> levels = levels_of(series.points, since_ms);
    QueueReport queue;
    queue.msqid = series.series.dimension;
    queue.key = series.series.labels.queue_key;
    queue.owner_uid = series.series.labels.owner_uid;
    bool any = false;
    for (const Level& level : levels) {
      if (level.value && (!any || *level.value > queue.peak_bytes)) {
        queue.peak_bytes = *level.value;
        queue.peak_ms = level.ts_ms;
        any = true;
      }
    }
    if (!any) continue;
    queue.end_bytes = value_at(levels, until_ms);
    auto [first, last] = messages_of.equal_range(queue.msqid);
    for (auto it = first; it != last; ++it) {
      if (it->second->series.labels == series.series.labels) {
        queue.end_messages = value_at(levels_of(it->second->points, since_ms), until_ms);
      }
    }
    queue.capacity = msgmnb;
    report.fullest_queues.push_back(queue);
  }
  std::sort(report.fullest_queues.begin(), report.fullest_queues.end(),
            [](const QueueReport& a, const QueueReport& b) { return a.peak_bytes > b.peak_bytes; });
  if (report.fullest_queues.size() > kFullestQueues) report.fullest_queues.resize(kFullestQueues);

  StillHappening& still = report.still_happening;
  still.from_ms = std::max(since_ms, until_ms - kLastMinuteMs);
  still.sampled = std::any_of(
      report.coverage.spans.begin(), report.coverage.spans.end(),
      [&](const Span& span) { return span.last_ms + span.interval_ms > still.from_ms; });
  for (const FailureReport& failure :
       failures_of(rows_of(chart_id::kCallErrors), spans, still.from_ms, until_ms)) {
    still.failing.emplace_back(failure.dimension, failure.count);
  }
  for (const ResourceReport& resource : report.resources) {
    std::optional<double> then = value_at(resource.levels, still.from_ms);
    std::optional<double> now = value_at(resource.levels, until_ms);
    if (then && now && *now > *then) still.growing.push_back(resource.id);
  }
  return report;
}

}  // namespace ipctrail
