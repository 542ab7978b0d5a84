// The read side of the history file, for `ipctrail query` and `ipctrail at`: opens the file
// read-only and answers in the terms of the README contract (a row holds from its ts on).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/tick_record.h"

namespace ipctrail {

struct SeriesInfo {
  std::int64_t id = 0;
  std::string chart;
  std::string dimension;
  SeriesLabels labels;
};

struct Point {
  std::int64_t ts_ms = 0;
  std::optional<StoredValue> value;  // nullopt: the series ended, or no sample covers the time
};

struct SeriesPoints {
  SeriesInfo series;
  std::vector<Point> points;
};

struct Span {
  std::int64_t start_ms = 0;
  std::int64_t last_ms = 0;
  std::int64_t interval_ms = 0;
  // The agent vouches for values from its first tick until one interval after its last.
  bool covers(std::int64_t ts_ms) const {
    return start_ms <= ts_ms && ts_ms <= last_ms + interval_ms;
  }
};

// One step of a chart of counts per tick: the sum of the counts of the ticks sampled in
// [ts, ts + step), and how much time those ticks cover (ticks x interval), to give a rate.
struct StepSum {
  std::int64_t ts_ms = 0;
  std::optional<std::int64_t> sum;  // nullopt: no tick with a value in the step
  std::int64_t sampled_ms = 0;
};

struct SeriesSums {
  SeriesInfo series;
  std::vector<StepSum> steps;
};

struct ChartInfo {
  std::string id;
  std::string units;
};

struct SeriesValue {
  SeriesInfo series;
  Point point;
};

// One stored alert transition. Statuses are Netdata's numbers (AlertStatus).
struct AlertRecord {
  std::int64_t ts_ms = 0;
  std::string alert;
  std::string chart;
  std::string instance;
  AlertStatus old_status = AlertStatus::kUninitialized;
  AlertStatus new_status = AlertStatus::kUninitialized;
  std::optional<double> old_value;
  std::optional<double> new_value;
  std::optional<double> warn;
  std::optional<double> crit;
  std::string summary;
};

// Everything known at one moment.
struct Snapshot {
  std::int64_t ts_ms = 0;
  std::optional<Span> span;           // the span covering ts_ms; none when the agent was down
  std::optional<Span> previous_span;  // the latest span that ended before ts_ms
  std::vector<ChartInfo> charts;
  std::vector<SeriesValue> values;  // the latest non-NULL row at or before ts_ms, by chart
  std::vector<AlertRecord> alerts;  // each alert instance's state then, as alert_states_at
};

class HistoryReader {
 public:
  // Throws HistoryFileError when the file is missing or not a current ipctrail history file.
  explicit HistoryReader(const std::filesystem::path& path);
  ~HistoryReader();

  std::vector<ChartInfo> charts();
  std::vector<SeriesInfo> series(const std::string& chart,
                                 const std::optional<std::string>& dimension);
  std::vector<Span> spans_between(std::int64_t since_ms, std::int64_t until_ms);

  // The value in effect at `since` (with its own, earlier ts) and every change up to `until`.
  std::vector<SeriesPoints> changes(const std::string& chart,
                                    const std::optional<std::string>& dimension,
                                    std::int64_t since_ms, std::int64_t until_ms);
  // Values at since, since + step, ... up to until; nullopt where no sampling span covers the time.
  std::vector<SeriesPoints> grid(const std::string& chart,
                                 const std::optional<std::string>& dimension, std::int64_t since_ms,
                                 std::int64_t until_ms, std::int64_t step_ms);
  // For a chart of counts per tick (the BPF call charts): per step from since to until, the sum of
  // the counts of the ticks in [t, t + step). A row's value holds for each tick of its sampling
  // span until the next row; a tick belongs to the step its place on the span's grid
  // (start + k x interval) falls in.
  std::vector<SeriesSums> step_sums(const std::string& chart,
                                    const std::optional<std::string>& dimension,
                                    std::int64_t since_ms, std::int64_t until_ms,
                                    std::int64_t step_ms);
  Snapshot snapshot_at(std::int64_t ts_ms);

  // Transitions with since <= ts <= until, oldest first.
  std::vector<AlertRecord> alert_transitions(std::int64_t since_ms, std::int64_t until_ms);
  // For each alert instance, its latest transition at or before ts_ms (its state then), except
  // instances whose latest is REMOVED; by alert, then instance.
  std::vector<AlertRecord> alert_states_at(std::int64_t ts_ms);

 private:
  struct Connection;  // SQLiteCpp stays inside storage/
  std::unique_ptr<Connection> connection_;
};

}  // namespace ipctrail
