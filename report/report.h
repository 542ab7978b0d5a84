// `ipctrail report`: the post-incident review of a time window of the history file, as plain
// values (docs/design.md §8). analyse_history() answers the on-call questions once — when did
// it start, when was the limit hit, which alerts fired and how early, what failed, which
// objects leaked, is it still happening — and the renderers (report/render.h) only lay the same
// facts out for a terminal, a program (JSON) or a browser (HTML), so the three never disagree.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "storage/history_reader.h"

namespace ipctrail {

// A window the report cannot answer for (empty, reversed, or never sampled): one line for the
// user, exit 2, nothing written.
class ReportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A value that holds from ts_ms until the next level; nullopt: unknown then (not sampled).
struct Level {
  std::int64_t ts_ms = 0;
  std::optional<double> value;
};

struct Gap {
  std::int64_t from_ms = 0;
  std::int64_t to_ms = 0;
};

struct Coverage {
  std::vector<Span> spans;  // clipped to the window
  std::vector<Gap> gaps;    // the parts of the window no span covers
  std::int64_t sampled_ms = 0;
};

// One resource against its limit over the window. Every time is one of the levels' times.
struct ResourceReport {
  std::string id;          // "arrays", "queued_bytes", ...: the JSON name
  std::string title;       // "Semaphore arrays"
  std::string units;       // "arrays"
  std::string limit_name;  // "semmni"; empty when the kernel has no system-wide limit for it
  std::string limit_note;  // how the limit or the value is derived, when not read as is
  std::vector<Level> levels;
  std::vector<Level> limit_levels;  // nullopt values: unknown or unlimited
  std::optional<double> start, end, peak;
  std::optional<std::int64_t> peak_ms;
  std::optional<double> limit;  // in effect at the end (or the last known)
  std::optional<double> peak_percent;
  std::optional<std::int64_t> limit_reached_ms;
  std::optional<std::int64_t>
      growth_started_ms;  // the first rise after the last low before the peak
  std::optional<double> fastest_growth_per_minute;
  std::optional<std::int64_t> fastest_growth_ms;  // the end of that minute
  std::vector<std::string> failures;              // the failures that mean this resource ran out
};

struct FailureReport {
  std::string dimension;  // "semget_ENOSPC"
  std::string call;       // "semget"
  std::string error;      // "ENOSPC"
  std::int64_t count = 0;
  std::int64_t first_ms = 0;
  std::int64_t last_ms = 0;
  std::vector<CountRun> runs;
};

struct TransitionReport {
  AlertRecord record;
  std::string resource;  // the resource it watches; empty when none of ours
  // The first failure of that resource (or, for an alert on failures, of its instance) in the
  // window, and how long before it the transition came (negative: after it). Only for raises.
  std::string first_failure;
  std::optional<std::int64_t> first_failure_ms;
  std::optional<std::int64_t> lead_ms;
};

// A time an alert instance spent raised (WARNING, CRITICAL or RAISED) within the window.
struct AlertBand {
  std::string alert;
  std::string instance;
  std::string resource;
  AlertStatus status = AlertStatus::kWarning;
  std::int64_t from_ms = 0;
  std::int64_t to_ms = 0;
};

struct KindCounts {
  std::int64_t semaphore_arrays = 0;
  std::int64_t queues = 0;
  std::int64_t segments = 0;
};

struct QueueReport {
  std::string msqid;
  std::optional<std::int64_t> key;
  std::optional<std::int64_t> owner_uid;
  double peak_bytes = 0;
  std::int64_t peak_ms = 0;
  std::optional<double> end_bytes;
  std::optional<double> end_messages;
  std::optional<double> capacity;  // msgmnb at the end: the capacity of a queue nobody resized
};

// Why a window has no per-process records (docs/design.md §8): the two cases call for different
// actions (upgrade the agent, or find out why BPF was off), so the report tells them apart.
enum class AttributionMissing {
  kNone,  // recorded: some per-process counting span overlaps the window
  // BPF counted the calls (the call charts have data) but no per-process records were kept: an
  // agent from before schema version 8 wrote the window (the file was upgraded since), or the
  // kernel refused per-process counting (the agent's log says so).
  kNotKept,
  kBpfOff,  // BPF counted nothing in the window
};

// The objects of one kind that the processes of one name in one unit created or removed in the
// window; no comm: the creations or removals no process is known for (made before BPF saw them,
// or their events were lost).
struct ObjectsByProcess {
  IpcKind kind = IpcKind::kSemaphore;
  std::optional<std::string> comm;
  std::optional<std::string> unit;
  std::vector<std::int32_t> pids;  // ascending, distinct
  std::int64_t created = 0;
  std::int64_t removed = 0;
};

// Who failed, created and removed (BPF's per-process records, through HistoryReader as `ipctrail
// who` reads them).
struct PerProcess {
  AttributionMissing missing = AttributionMissing::kBpfOff;
  bool recorded() const { return missing == AttributionMissing::kNone; }
  std::vector<ProcessCallTotal> failures;  // by process, unit, call and errno; largest first
  // What the kernel could not attribute in the window: never silent.
  std::int64_t calls_not_attributed = 0;
  std::int64_t events_lost = 0;
  std::vector<ObjectsByProcess> objects;  // most created and removed first
};

struct StillHappening {
  std::int64_t from_ms = 0;  // the last minute of the window
  bool sampled = false;      // some of it was sampled; otherwise the answer is unknown
  std::vector<std::pair<std::string, std::int64_t>> failing;  // failure and its count then
  std::vector<std::string> growing;                           // resource ids
  bool yes() const { return !failing.empty() || !growing.empty(); }
};

struct Report {
  std::string file;
  // Whose rows (`--namespace`): "host" (the agent's own), "all", or another namespace's name as
  // the reader was given it (docs/design.md §9).
  std::string ipc_namespace = "host";
  std::int64_t since_ms = 0;
  std::int64_t until_ms = 0;
  Coverage coverage;
  std::vector<ResourceReport> resources;
  std::vector<TransitionReport> transitions;
  std::vector<AlertBand> bands;
  bool calls_recorded = false;  // the window has BPF call charts (failures are counted)
  std::vector<FailureReport> failures;
  PerProcess per_process;
  KindCounts created;
  KindCounts removed;
  std::vector<StoredObject> leak_suspects;
  std::vector<QueueReport> fullest_queues;
  StillHappening still_happening;
};

inline constexpr std::int64_t kLastMinuteMs = 60'000;
inline constexpr std::size_t kFullestQueues = 10;

// The analysis of [since, until]. Throws ReportError when until <= since or no sampling span
// of the file overlaps the window; HistoryFileError comes from the reader.
Report analyse_history(HistoryReader& reader, const std::string& file, std::int64_t since_ms,
                       std::int64_t until_ms);

// The value in effect at ts_ms (nullopt before the first level or while unknown).
std::optional<double> value_at(const std::vector<Level>& levels, std::int64_t ts_ms);

}  // namespace ipctrail
