// Retention by age and by size, done a little at a time inside a tick's transaction so it never
// stalls a tick, with incremental vacuum so the file shrinks after deletions.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <chrono>
#include <cstdint>

#include "storage/retention_options.h"

namespace ipctrail {

class Retention {
 public:
  Retention(SQLite::Database& db, RetentionOptions options);

  // Deletes the oldest points before the cutoff (kept: kRefreshMs more, so that the value of
  // every series at the cutoff can still be found), the spans and ended series before it, and the
  // alert transitions before it except each alert instance's latest, whatever its age. The
  // cutoff is now - max_age, or later while the file holds more than max_bytes: then it moves
  // forward by a tenth of the stored time range whenever the previous move is fully applied.
  void step(std::int64_t now_ms);

  // After a failed tick: forgets the error a failed statement would report again.
  void reset_statements() noexcept;

 private:
  // The IPC object inventory: incarnations removed before the cutoff go with their states and
  // events; a live object keeps its state at the cutoff and everything after.
  void delete_old_objects(std::int64_t cutoff_ms);
  void apply_size_limit(std::int64_t now_ms, std::int64_t oldest_ms);
  void vacuum_some();
  std::uint64_t used_bytes();

  SQLite::Database& db_;
  RetentionOptions options_;
  SQLite::Statement oldest_point_;
  SQLite::Statement delete_points_;
  SQLite::Statement delete_ended_series_;
  SQLite::Statement delete_spans_;
  SQLite::Statement delete_alert_transitions_;
  SQLite::Statement clip_spans_;
  SQLite::Statement delete_removed_object_states_;
  SQLite::Statement delete_removed_object_events_;
  SQLite::Statement delete_removed_objects_;
  SQLite::Statement delete_superseded_object_states_;  // data before the cutoff is gone, so is that
                                                       // part of its span
  std::int64_t last_step_ms_ = 0;
  std::int64_t size_cutoff_ms_ = 0;
};

}  // namespace ipctrail
