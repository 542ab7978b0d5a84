#include "storage/retention.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "storage/schema.h"

namespace ipctrail {

Retention::Retention(SQLite::Database& db, RetentionOptions options)
    : db_(db),
      options_(options),
      oldest_point_(db, "SELECT min(ts) FROM points"),
      // The first rows in key order, up to the batch size, all below the cutoff: by the whole key,
      // so that one tick's rows (all of one ts) never stall it.
      delete_points_(db,
                     "DELETE FROM points WHERE (ts, series_id) IN (SELECT ts, series_id FROM "
                     "points WHERE ts < ?1 ORDER BY ts, series_id LIMIT ?2)"),
      // A series' points all lie at or before its end marker: once the oldest point left is
      // younger than that, none is, and its row can go without orphaning any.
      delete_ended_series_(db,
                           "DELETE FROM series WHERE id IN (SELECT id FROM series WHERE ended_ts < "
                           "coalesce((SELECT min(ts) FROM points), 9223372036854775807) LIMIT ?1)"),
      delete_spans_(db, "DELETE FROM sampling_spans WHERE last_ts < ?"),
      // An instance's latest transition is its current state: `ipctrail alerts --active` and
      // `ipctrail at` must find it however long ago it happened. Instances are per IPC namespace;
      // those of a namespace that ended before the cutoff went with it, latest included.
      delete_alert_transitions_(
          db,
          "DELETE FROM alert_transitions WHERE id IN (SELECT a.id FROM alert_transitions a WHERE "
          "a.ts < ?1 AND (EXISTS (SELECT 1 FROM alert_transitions b WHERE b.alert = a.alert AND "
          "b.instance = a.instance AND b.namespace_id IS a.namespace_id AND b.id > a.id) OR "
          "a.namespace_id IN (SELECT id FROM namespaces WHERE ended_ts < ?1)) LIMIT ?2)"),
      clip_spans_(db, "UPDATE sampling_spans SET start_ts = ?1 WHERE start_ts < ?1"),
      // The oldest removed incarnations, up to the batch size; states and events go first, by
      // the same selection, then the incarnations themselves.
      delete_removed_object_states_(db,
                                    "DELETE FROM ipc_object_states WHERE object_id IN (SELECT id "
                                    "FROM ipc_objects WHERE removed_ts < ?1 ORDER BY removed_ts, "
                                    "id LIMIT ?2)"),
      delete_removed_object_events_(db,
                                    "DELETE FROM ipc_object_events WHERE object_id IN (SELECT id "
                                    "FROM ipc_objects WHERE removed_ts < ?1 ORDER BY removed_ts, "
                                    "id LIMIT ?2)"),
      delete_removed_objects_(db,
                              "DELETE FROM ipc_objects WHERE id IN (SELECT id FROM ipc_objects "
                              "WHERE removed_ts < ?1 ORDER BY removed_ts, id LIMIT ?2)"),
      // The end of the next window of incarnations (by id) after the cursor.
      next_object_window_(db,
                          "SELECT max(id) FROM (SELECT id FROM ipc_objects WHERE id > ?1 ORDER BY "
                          "id LIMIT ?2)"),
      // In that window, each incarnation's states older than its state at the cutoff: a seek for
      // that state and a range of the (object_id, ts) key before it, so a step reads the window's
      // ids and the rows it deletes, never the whole table. CROSS JOIN keeps SQLite from driving
      // the join by the states instead, which would read every state of the window's objects.
      delete_superseded_object_states_(
          db,
          "DELETE FROM ipc_object_states WHERE (object_id, ts) IN (SELECT s.object_id, s.ts FROM "
          "ipc_objects o CROSS JOIN ipc_object_states s ON s.object_id = o.id AND s.ts < (SELECT "
          "max(ts) FROM ipc_object_states WHERE object_id = o.id AND ts <= ?1) WHERE o.id > ?2 AND "
          "o.id <= ?3 LIMIT ?4)"),
      // Ended namespaces no series, object or transition refers to any more: those went first,
      // by the limits above. One pass over each table, taken only while such a candidate exists.
      ended_namespace_before_(db, "SELECT 1 FROM namespaces WHERE ended_ts < ?1 LIMIT 1"),
      delete_unreferenced_namespaces_(
          db,
          "DELETE FROM namespaces WHERE ended_ts < ?1 AND id NOT IN (SELECT namespace_id FROM "
          "series WHERE namespace_id IS NOT NULL UNION SELECT namespace_id FROM ipc_objects WHERE "
          "namespace_id IS NOT NULL UNION SELECT namespace_id FROM alert_transitions WHERE "
          "namespace_id IS NOT NULL)"),
      processes_(db) {}

void Retention::step(std::int64_t now_ms, std::int64_t rows, bool keyframe) {
  rows_since_step_ += rows;
  std::uint64_t used = used_bytes();
  if (keyframe) remember_keyframe(now_ms, used);
  used_at_keyframe_ = std::min(used_at_keyframe_, used);
  if (used > used_at_keyframe_ + options_.max_bytes / 8) wants_keyframe_ = true;

  // From seven eighths of the limit on, so that one tick's writes and the deletion's lag stay
  // within the slack up to 1.25 x max_bytes.
  bool over_size = used > options_.max_bytes - options_.max_bytes / 8;
  bool due = now_ms - last_step_ms_ >= options_.every.count() || now_ms < last_step_ms_;
  if (!over_size && !due) return;
  last_step_ms_ = now_ms;
  std::int64_t budget = options_.rows_per_step + 2 * rows_since_step_;
  rows_since_step_ = 0;

  std::int64_t cutoff_ms = std::max(now_ms - options_.max_age.count(), size_cutoff_ms_);
  std::int64_t delete_before_ms = deletable_before(cutoff_ms);

  delete_points_.reset();
  delete_points_.bind(1, delete_before_ms);
  delete_points_.bind(2, budget);
  delete_points_.exec();

  delete_ended_series_.reset();
  delete_ended_series_.bind(1, budget);
  delete_ended_series_.exec();

  delete_spans_.reset();
  delete_spans_.bind(1, cutoff_ms);
  delete_spans_.exec();
  clip_spans_.reset();
  clip_spans_.bind(1, cutoff_ms);
  clip_spans_.exec();

  delete_alert_transitions_.reset();
  delete_alert_transitions_.bind(1, cutoff_ms);
  delete_alert_transitions_.bind(2, budget);
  delete_alert_transitions_.exec();

  delete_old_objects(cutoff_ms, budget);
  processes_.delete_before(cutoff_ms, budget);
  delete_unreferenced_namespaces(cutoff_ms);
  // A later cutoff is never earlier (unless the clock is stepped back, and then deletion only keeps
  // more): of the keyframes at or before this one, only the latest can still be the one it
  // deletes up to.
  while (keyframes_.size() > 1 && keyframes_[1] <= cutoff_ms) keyframes_.pop_front();

  oldest_point_.reset();
  if (oldest_point_.executeStep() && !oldest_point_.getColumn(0).isNull()) {
    std::int64_t oldest_ms = oldest_point_.getColumn(0).getInt64();
    oldest_point_.reset();
    while (keyframes_.size() > 1 && keyframes_.front() < oldest_ms) keyframes_.pop_front();
    if (over_size && oldest_ms >= delete_before_ms) advance_size_cutoff(now_ms, oldest_ms);
  }
  oldest_point_.reset();
  vacuum_some();
}

std::int64_t Retention::keyframe_spacing() const {
  return std::max<std::int64_t>(options_.every.count(), options_.max_age.count() / 1024);
}

// A keyframe retention asked for is always remembered: the size limit moves its cutoff to it, and
// without it would find nothing to delete up to. Any other is remembered only keyframe_spacing()
// after the last: the earlier one stays, so that a keyframe a cutoff already points at is never
// replaced by a later one (replacing it would move the cutoff's anchor out of reach for as long as
// keyframes keep coming).
void Retention::remember_keyframe(std::int64_t now_ms, std::uint64_t used) {
  bool wanted = wants_keyframe_;
  wants_keyframe_ = false;
  if (!keyframes_.empty() && now_ms >= keyframes_.back() &&
      now_ms - keyframes_.back() < keyframe_spacing() && !wanted) {
    return;
  }
  // The clock went back: a keyframe after now is in a future the ticks left, and the list stays
  // sorted (deletion then keeps more, never less).
  while (!keyframes_.empty() && keyframes_.back() > now_ms) keyframes_.pop_back();
  keyframes_.push_back(now_ms);
  keyframe_pending_ = true;
  used_at_keyframe_ = used;
}

void Retention::rolled_back() noexcept {
  if (keyframe_pending_) keyframes_.pop_back();
  keyframe_pending_ = false;
  for (SQLite::Statement* statement :
       {&oldest_point_, &delete_points_, &delete_ended_series_, &delete_spans_,
        &delete_alert_transitions_, &clip_spans_, &delete_removed_object_states_,
        &delete_removed_object_events_, &delete_removed_objects_, &next_object_window_,
        &delete_superseded_object_states_, &ended_namespace_before_,
        &delete_unreferenced_namespaces_}) {
    statement->tryReset();
  }
  processes_.rolled_back();
}

void Retention::delete_old_objects(std::int64_t cutoff_ms, std::int64_t budget) {
  for (SQLite::Statement* statement :
       {&delete_removed_object_states_, &delete_removed_object_events_, &delete_removed_objects_}) {
    statement->reset();
    statement->bind(1, cutoff_ms);
    statement->bind(2, options_.rows_per_step);
    statement->exec();
  }

  next_object_window_.reset();
  next_object_window_.bind(1, superseded_cursor_);
  next_object_window_.bind(2, options_.rows_per_step);
  std::optional<std::int64_t> window_end;
  if (next_object_window_.executeStep() && !next_object_window_.getColumn(0).isNull()) {
    window_end = next_object_window_.getColumn(0).getInt64();
  }
  next_object_window_.reset();
  if (!window_end) {
    superseded_cursor_ = 0;  // past the last incarnation: the next step starts over
    return;
  }
  delete_superseded_object_states_.reset();
  delete_superseded_object_states_.bind(1, cutoff_ms);
  delete_superseded_object_states_.bind(2, superseded_cursor_);
  delete_superseded_object_states_.bind(3, *window_end);
  delete_superseded_object_states_.bind(4, budget);
  // A window with more to delete than the budget is taken again by the next step.
  if (delete_superseded_object_states_.exec() < budget) superseded_cursor_ = *window_end;
}

void Retention::delete_unreferenced_namespaces(std::int64_t cutoff_ms) {
  ended_namespace_before_.reset();
  ended_namespace_before_.bind(1, cutoff_ms);
  bool candidate = ended_namespace_before_.executeStep();
  ended_namespace_before_.reset();
  if (!candidate) return;
  delete_unreferenced_namespaces_.reset();
  delete_unreferenced_namespaces_.bind(1, cutoff_ms);
  delete_unreferenced_namespaces_.exec();
}

// Every series open at a keyframe has a row there, and every series has a row within kRefreshMs
// before any time: either way the value at the cutoff is still found.
std::int64_t Retention::deletable_before(std::int64_t cutoff_ms) const {
  std::int64_t before = cutoff_ms - kRefreshMs;
  for (std::int64_t keyframe : keyframes_) {
    if (keyframe <= cutoff_ms) before = std::max(before, keyframe);
  }
  return before;
}

void Retention::advance_size_cutoff(std::int64_t now_ms, std::int64_t oldest_ms) {
  std::int64_t from = oldest_ms + kRefreshMs;
  std::int64_t by_time =
      std::min(from + std::max<std::int64_t>((now_ms - from) / 10, 60'000), now_ms);
  std::int64_t moved = by_time;
  auto next_keyframe = std::upper_bound(keyframes_.begin(), keyframes_.end(), oldest_ms);
  if (next_keyframe != keyframes_.end() &&
      (*next_keyframe < by_time || deletable_before(by_time) <= oldest_ms)) {
    moved = *next_keyframe;
  }
  if (deletable_before(moved) <= oldest_ms) wants_keyframe_ = true;  // nothing to delete up to yet
  if (moved <= size_cutoff_ms_) return;
  size_cutoff_ms_ = moved;
  spdlog::debug("history above the limit of {} bytes: keeping data from ts {} on",
                options_.max_bytes, size_cutoff_ms_);
}

void Retention::vacuum_some() {
  std::int64_t free_pages = db_.execAndGet("PRAGMA freelist_count").getInt64();
  std::int64_t pages = db_.execAndGet("PRAGMA page_count").getInt64();
  // Small amounts of free space are reused by the next inserts; moving pages for them is waste.
  if (free_pages <= std::max<std::int64_t>(64, pages / 16)) return;
  db_.exec("PRAGMA incremental_vacuum(" + std::to_string(options_.vacuum_pages_per_step) + ")");
}

std::uint64_t Retention::used_bytes() {
  std::int64_t pages = db_.execAndGet("PRAGMA page_count").getInt64();
  std::int64_t free_pages = db_.execAndGet("PRAGMA freelist_count").getInt64();
  std::int64_t page_size = db_.execAndGet("PRAGMA page_size").getInt64();
  return static_cast<std::uint64_t>((pages - free_pages) * page_size);
}

}  // namespace ipctrail
