// Retention by age and by size, done inside a tick's transaction so it never stalls a tick, in
// steps that keep pace with what the ticks write, with incremental vacuum so the file shrinks
// after deletions.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "storage/process_retention.h"
#include "storage/retention_options.h"

namespace ipctrail {

class Retention {
 public:
  Retention(SQLite::Database& db, RetentionOptions options);

  // Whether the next tick should restate every open series (a keyframe): the store asks for one
  // whenever the file grew by an eighth of max_bytes since the last, so that size retention has
  // a point to delete up to even when everything stored is younger than kRefreshMs.
  bool wants_keyframe() const { return wants_keyframe_; }

  // Called at the end of every tick, inside its transaction; `rows` is how many points the tick
  // wrote, `keyframe` whether it restated every open series. Deletes, oldest first: points before
  // the cutoff (keeping what finds each series' value at the cutoff: kRefreshMs more, or nothing
  // before a keyframe at or before the cutoff), the spans before it, ended series once none of
  // their points is left (never an orphan point), and the alert transitions before it except each
  // alert instance's latest, whatever its age. The cutoff is now - max_age, or later while the file
  // holds more than 7/8 of max_bytes: then it moves to the next keyframe or by a tenth of the
  // stored time, whichever is nearer, whenever the previous move is fully applied. A step runs once
  // per `every` of tick time, and on every tick while the file is over 7/8 of max_bytes; each
  // deletes up to rows_per_step rows plus twice what the ticks wrote since the last step, so
  // retention keeps pace with any rate the agent writes at.
  //
  // Not every keyframe is remembered: one retention asked for (wants_keyframe) always is, and
  // otherwise one per keyframe_spacing(); a keyframe already remembered is never dropped for a
  // later one, since a cutoff may point at it, until a later one at or before the cutoff (or the
  // oldest point) supersedes it. A host whose every tick starts a span (ticks that overrun) thus
  // keeps at most about max_age / keyframe_spacing() + 1 of them, plus those the size limit asked
  // for, instead of one per tick.
  void step(std::int64_t now_ms, std::int64_t rows, bool keyframe);

  // The tick's transaction committed.
  void committed() noexcept { keyframe_pending_ = false; }
  // After a failed tick: forgets its keyframe, and the error a failed statement would report again.
  void rolled_back() noexcept;

  // How many keyframes are remembered: for the tests of the bound above.
  std::size_t keyframes_held() const noexcept { return keyframes_.size(); }

 private:
  // The IPC object inventory: incarnations removed before the cutoff go with their states and
  // events; a live object keeps its state at the cutoff and everything after. Superseded states
  // are deleted a window of rows_per_step incarnations at a time, `budget` rows at most, the
  // windows taken in turn by a cursor over the incarnations' ids: each step's work is bounded
  // however many states the file holds.
  void delete_old_objects(std::int64_t cutoff_ms, std::int64_t budget);
  // max(every, max_age / 1024): deleting up to a remembered keyframe at most this much before the
  // age cutoff keeps at most 0.1% of max_age (or one step's worth) more than the cutoff asks.
  std::int64_t keyframe_spacing() const;
  void remember_keyframe(std::int64_t now_ms, std::uint64_t used);
  // The `namespaces` rows of namespaces that ended before the cutoff, once nothing refers to them.
  void delete_unreferenced_namespaces(std::int64_t cutoff_ms);
  std::int64_t deletable_before(std::int64_t cutoff_ms) const;
  void advance_size_cutoff(std::int64_t now_ms, std::int64_t oldest_ms);
  void vacuum_some();
  std::uint64_t used_bytes();

  SQLite::Database& db_;
  RetentionOptions options_;
  SQLite::Statement oldest_point_;
  SQLite::Statement delete_points_;
  SQLite::Statement delete_ended_series_;
  SQLite::Statement delete_spans_;
  SQLite::Statement delete_alert_transitions_;
  SQLite::Statement clip_spans_;  // data before the cutoff is gone, so is that part of its span
  SQLite::Statement delete_removed_object_states_;
  SQLite::Statement delete_removed_object_events_;
  SQLite::Statement delete_removed_objects_;
  SQLite::Statement next_object_window_;
  SQLite::Statement delete_superseded_object_states_;
  SQLite::Statement ended_namespace_before_;
  SQLite::Statement delete_unreferenced_namespaces_;
  std::int64_t superseded_cursor_ = 0;  // incarnations up to this id were swept this pass
  ProcessRetention processes_;
  std::int64_t last_step_ms_ = 0;
  std::int64_t size_cutoff_ms_ = 0;
  std::int64_t rows_since_step_ = 0;
  // Remembered ticks that restated every open series, oldest first (see step).
  std::deque<std::int64_t> keyframes_;
  bool keyframe_pending_ = false;       // keyframes_.back() is in the uncommitted transaction
  std::uint64_t used_at_keyframe_ = 0;  // used bytes after the last one (or the low since)
  bool wants_keyframe_ = false;
};

}  // namespace ipctrail
