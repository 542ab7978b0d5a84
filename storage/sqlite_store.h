// The SQLite side of Store (store.h): internal to storage/, so that nothing else sees SQLiteCpp.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "storage/object_store.h"
#include "storage/process_store.h"
#include "storage/retention.h"
#include "storage/store.h"
#include "storage/writer_guard.h"

namespace ipctrail {

// See Store for the contract.
class SqliteStore {
 public:
  // Creates the file or upgrades an existing ipctrail file; throws as Store's constructor.
  explicit SqliteStore(StoreOptions options);

  // Writes one tick in one transaction: the first tick of a sampling span writes every value,
  // later ticks the values that changed (and, once within kRefreshMs, those that did not), and an
  // end marker (NULL) for each series that vanished (not for those of a chart whose source could
  // not be read: unknown is not gone); and the tick's alert transitions. Then a bounded step of
  // retention. On failure (disk full, database locked) the tick is rolled back and the exception
  // propagates; the store stays usable, and the next tick that succeeds starts a new sampling span,
  // so the lost ticks show as a gap.
  void write_tick(const TickRecord& tick);

  const std::filesystem::path& path() const { return options_.path; }
  // See WriterGuard::still_at_path.
  bool still_at_path() const { return guard_.still_at_path(); }
  // Before closing a file that is no longer at its path: SQLite deletes the -wal and -shm files by
  // name when the last connection closes, and those names may belong to a file put there since.
  void keep_files_beside_on_close() noexcept;

 private:
  struct OpenSeries {
    const std::string* dimension = nullptr;  // the key of this entry in its chart's map
    std::int64_t id = 0;
    SeriesLabels labels;
    std::optional<StoredValue> value;
    std::int64_t written_ts = 0;
    std::int64_t refresh_after_ms = 0;  // spread per series, so refresh rows do not come in bursts
    std::uint64_t seen_in_tick = 0;
  };
  struct ChartState {
    std::unordered_map<std::string, OpenSeries> series;  // open series, by dimension
    // Last tick's series in the order the source reported them: sources report the same
    // dimensions in the same order tick after tick, so a lookup is mostly one string compare.
    std::vector<OpenSeries*> last_order;
    std::vector<OpenSeries*> next_order;  // this tick's, swapped into last_order at the end
    std::uint64_t seen_in_tick = 0;
    std::size_t seen_count = 0;
    std::uint64_t unknown_in_tick = 0;  // the chart's source could not be read in that tick
  };

  void reload_state();
  void write_span(const TickRecord& tick, bool& starts_span);
  // `namespace_id` is the namespaces row of another IPC namespace, 0 for the agent's own.
  ChartState& chart_state(const Chart& chart, std::int64_t namespace_id);
  void write_chart(const ChartRecord& record, std::int64_t ts_ms, bool keyframe,
                   std::int64_t namespace_id);
  OpenSeries& open_series(ChartState& state, OpenSeries* found, const Chart& chart,
                          const Dimension& dimension, const SeriesLabels& labels,
                          std::int64_t namespace_id, std::int64_t ts_ms);
  std::int64_t series_id_for(std::string_view chart, const std::string& dimension,
                             const SeriesLabels& labels, std::int64_t namespace_id);
  // Other namespaces: a row per incarnation, their charts and objects; a namespace missing from
  // the tick is gone: its row, series and objects end.
  void write_namespaces(const TickRecord& tick, bool keyframe);
  void end_namespace(std::int64_t namespace_id, std::int64_t ts_ms);
  ObjectStore& objects_of(std::int64_t namespace_id);
  void write_point(OpenSeries& series, std::int64_t ts_ms, const StoredValue& value);
  void end_series(std::int64_t series_id, std::int64_t ts_ms);
  void insert_point(std::int64_t series_id, std::int64_t ts_ms,
                    const std::optional<StoredValue>& value);
  void end_vanished_series(std::int64_t ts_ms);
  void write_alert_transition(const AlertTransition& transition);
  void reset_statements() noexcept;

  StoreOptions options_;
  WriterGuard guard_;  // before db_: checked and locked before SQLite opens, unlocked after
  SQLite::Database db_;
  SQLite::Statement insert_point_;
  SQLite::Statement find_series_;
  SQLite::Statement insert_series_;
  SQLite::Statement reopen_series_;
  SQLite::Statement end_series_;
  SQLite::Statement insert_chart_;
  SQLite::Statement insert_span_;
  SQLite::Statement extend_span_;
  SQLite::Statement insert_alert_transition_;
  SQLite::Statement insert_namespace_;
  SQLite::Statement seen_namespaces_;
  SQLite::Statement end_namespace_;
  ObjectStore objects_;
  ProcessStore processes_;
  Retention retention_;

  // Hashes a chart id given as any string type, so that a tick's lookups by the Chart's
  // string_view make no std::string.
  struct ChartIdHash : std::hash<std::string_view> {
    using is_transparent = void;
  };
  // The open charts by namespace (0: the agent's own), then by chart id.
  std::map<std::int64_t, std::unordered_map<std::string, ChartState, ChartIdHash, std::equal_to<>>>
      charts_;
  std::unordered_set<std::string> chart_ids_;  // every chart in the charts table
  std::unordered_map<std::uint64_t, std::int64_t> live_namespaces_;  // inode -> namespaces row
  // Live rows this store has not written (an earlier agent's), with their last_seen_ts: a namespace
  // new to this agent continues such a row when it is the same namespace (write_namespaces).
  std::unordered_map<std::int64_t, std::int64_t> inherited_namespaces_;
  std::unordered_set<std::int64_t> namespaces_written_;    // rows this store wrote
  std::map<std::int64_t, ObjectStore> namespace_objects_;  // by namespaces row, made on first use
  std::uint64_t tick_number_ = 0;
  std::int64_t rows_in_tick_ = 0;  // points written by the tick being written, for retention
  std::optional<std::int64_t> span_id_;
  std::int64_t span_last_ts_ = 0;
  std::int64_t span_interval_ms_ = 0;
  bool state_stale_ = true;  // memory may disagree with the file after a failed tick
};

}  // namespace ipctrail
