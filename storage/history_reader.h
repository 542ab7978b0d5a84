// The read side of the history file, for `ipctrail query` and `ipctrail at`: opens the file
// read-only and answers in the terms of the README contract (a row holds from its ts on).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/ipc_objects.h"
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

// A process as the history names it (from BPF): its pid, command name and the owner of its cgroup
// (a systemd unit, a container), when known.
struct ProcessRef {
  std::int32_t pid = 0;
  std::string comm;
  std::optional<std::string> unit;
  friend bool operator==(const ProcessRef&, const ProcessRef&) = default;
};

// One incarnation of an IPC object as the history holds it at some moment: the owner, mode and
// moving fields in `object` are those in effect then (operation times rounded down to the minute);
// ctime is the creation time stored when the agent first saw it.
struct StoredObject {
  std::int64_t incarnation = 0;
  IpcObject object;
  std::int64_t created_ms = 0;
  std::int64_t first_seen_ms = 0;
  std::optional<std::int64_t> last_seen_ms;  // the last tick that saw it, once removed
  std::optional<std::int64_t> removed_ms;    // the first tick that did not
  // A leak suspect then (its latest leak_suspected/leak_cleared event at or before the moment
  // was leak_suspected), and why.
  std::optional<std::string> leak_reason;
  // Who created and who removed it (IPC_RMID), where BPF saw it (README "Who did it").
  std::optional<ProcessRef> creator;
  std::optional<ProcessRef> remover;
};

// One entry of the lifecycle log: created, removed, owner_changed, mode_changed, leak_suspected,
// leak_cleared.
struct ObjectEvent {
  std::int64_t ts_ms = 0;
  IpcKind kind = IpcKind::kSemaphore;
  int id = 0;
  std::int32_t key = 0;
  std::string event;
  std::string details;
  std::int64_t incarnation = 0;  // 0: an object no tick saw (made and removed between two)
  // created: its creator; removed: who removed it; where BPF saw it.
  std::optional<ProcessRef> process;
};

// The calls of the processes of one name in one unit to one call with one outcome, in a window.
struct ProcessCallTotal {
  std::string comm;
  std::optional<std::string> unit;
  std::vector<std::int32_t> pids;    // ascending
  std::string call;                  // "semget"
  std::optional<std::string> error;  // "ENOSPC"; nullopt: the calls succeeded
  std::int64_t count = 0;
  std::int64_t first_ms = 0;  // the first tick that counted one
  std::int64_t last_ms = 0;   // the last tick that counted one
};

// How complete the per-process counts of a window are.
struct ProcessCoverage {
  std::vector<Span> sampling;  // the agent's sampling spans in the window
  std::vector<std::pair<std::int64_t, std::int64_t>>
      counted;  // per-process spans: first, last tick
  std::int64_t calls_not_attributed = 0;
  std::int64_t events_lost = 0;
};

// --- For `ipctrail report` (report/): the ticks of a chart of counts per tick, as runs. ---
// Consecutive ticks of one sampling span that each counted `per_tick` (> 0): the first and the
// last of them, and how many. A stored row holds for every tick of its span until the next row,
// so a steady count over an hour is one run, not 3600 ticks.
struct CountRun {
  std::int64_t first_tick_ms = 0;
  std::int64_t last_tick_ms = 0;
  std::int64_t per_tick = 0;
  std::int64_t ticks = 0;
  std::int64_t total() const { return per_tick * ticks; }
};

struct SeriesCountRuns {
  SeriesInfo series;
  std::vector<CountRun> runs;  // oldest first; ticks that counted 0 are left out
};

// For a chart of counts per tick (the BPF call charts), from its changes() and the sampling
// spans: each series' ticks with since <= tick time <= until that counted something, as runs, on
// the spans' tick grids. Series without such ticks are left out.
std::vector<SeriesCountRuns> count_runs(const std::vector<SeriesPoints>& changes,
                                        const std::vector<Span>& spans, std::int64_t since_ms,
                                        std::int64_t until_ms);

// Which IPC namespace's rows a reader sees (docs/design.md §9): the agent's own (kHostNamespace,
// the host's for the packaged service), every one (kAllNamespaces), or another by its label, inode
// or ipc:[inode] (every incarnation of that name).
inline constexpr const char* kHostNamespace = "host";
inline constexpr const char* kAllNamespaces = "all";

class HistoryReader {
 public:
  // Throws HistoryFileError when the file is missing or not a current ipctrail history file, and
  // std::invalid_argument when it has no namespace called `namespace_choice`.
  explicit HistoryReader(const std::filesystem::path& path,
                         const std::string& namespace_choice = kHostNamespace);
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

  // The objects that existed at ts_ms (first seen at or before it, not removed by then), by kind
  // and id.
  std::vector<StoredObject> objects_at(std::int64_t ts_ms);
  // Lifecycle events with since <= ts <= until, oldest first.
  std::vector<ObjectEvent> object_events(std::int64_t since_ms, std::int64_t until_ms);

  // The processes behind the calls counted by ticks with since <= ts <= until, largest count
  // first; only `call` when given, only failures when `errors_only`.
  std::vector<ProcessCallTotal> process_call_totals(std::int64_t since_ms, std::int64_t until_ms,
                                                    const std::optional<std::string>& call,
                                                    bool errors_only);
  ProcessCoverage process_coverage(std::int64_t since_ms, std::int64_t until_ms);
  // changes() of every series of `charts` (every chart when empty) in one pass over the window's
  // rows instead of one pass per chart, by chart id.
  std::map<std::string, std::vector<SeriesPoints>> changes_of_charts(
      const std::vector<std::string>& charts, std::int64_t since_ms, std::int64_t until_ms);

 private:
  struct Connection;  // SQLiteCpp stays inside storage/
  std::unique_ptr<Connection> connection_;
};

}  // namespace ipctrail
