#include "storage/retention.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

namespace ipctrail {

Retention::Retention(SQLite::Database& db, RetentionOptions options)
    : db_(db),
      options_(options),
      next_series_(db, "SELECT id FROM series WHERE id > ? ORDER BY id LIMIT ?"),
      kept_row_(db,
                "SELECT ts, value IS NULL FROM points WHERE series_id = ? AND ts <= ? "
                "ORDER BY ts DESC LIMIT 1"),
      delete_rows_(db,
                   "DELETE FROM points WHERE series_id = ?1 AND ts IN (SELECT ts FROM points "
                   "WHERE series_id = ?1 AND ts < ?2 ORDER BY ts LIMIT ?3)"),
      delete_empty_series_(db,
                           "DELETE FROM series WHERE id = ?1 AND NOT EXISTS "
                           "(SELECT 1 FROM points WHERE series_id = ?1)"),
      delete_spans_(db, "DELETE FROM sampling_spans WHERE last_ts < ?"),
      clip_spans_(db, "UPDATE sampling_spans SET start_ts = ?1 WHERE start_ts < ?1") {}

void Retention::step(std::int64_t now_ms) {
  std::int64_t cutoff_ms = std::max(now_ms - options_.max_age.count(), size_cutoff_ms_);
  int row_budget = options_.rows_per_step;

  std::vector<std::int64_t> batch;
  next_series_.reset();
  next_series_.bind(1, cursor_);
  next_series_.bind(2, options_.series_per_step);
  while (next_series_.executeStep()) batch.push_back(next_series_.getColumn(0).getInt64());

  for (std::int64_t series_id : batch) {
    trim_series(series_id, cutoff_ms, row_budget);
    if (row_budget == 0) break;  // this series may hold more: revisit it next step
    cursor_ = series_id;
  }
  if (row_budget > 0 && std::ssize(batch) < options_.series_per_step) {
    finish_pass(now_ms, cutoff_ms);
  }
  vacuum_some();
}

void Retention::trim_series(std::int64_t series_id, std::int64_t cutoff_ms, int& row_budget) {
  kept_row_.reset();
  kept_row_.bind(1, series_id);
  kept_row_.bind(2, cutoff_ms);
  if (!kept_row_.executeStep()) return;
  std::int64_t kept_ts = kept_row_.getColumn(0).getInt64();
  bool ended = kept_row_.getColumn(1).getInt() != 0;
  kept_row_.reset();

  delete_rows_.reset();
  delete_rows_.bind(1, series_id);
  delete_rows_.bind(2, ended ? kept_ts + 1 : kept_ts);
  delete_rows_.bind(3, row_budget);
  row_budget -= delete_rows_.exec();

  if (ended && row_budget > 0) {
    delete_empty_series_.reset();
    delete_empty_series_.bind(1, series_id);
    delete_empty_series_.exec();
  }
}

void Retention::finish_pass(std::int64_t now_ms, std::int64_t cutoff_ms) {
  cursor_ = 0;
  delete_spans_.reset();
  delete_spans_.bind(1, cutoff_ms);
  delete_spans_.exec();
  clip_spans_.reset();
  clip_spans_.bind(1, cutoff_ms);
  clip_spans_.exec();

  std::uint64_t used = used_bytes();
  if (used <= options_.max_bytes) return;
  SQLite::Column oldest = db_.execAndGet("SELECT min(start_ts) FROM sampling_spans");
  std::int64_t from = oldest.isNull() ? cutoff_ms : std::max(oldest.getInt64(), cutoff_ms);
  std::int64_t advanced = from + std::max<std::int64_t>((now_ms - from) / 10, 1000);
  if (advanced > size_cutoff_ms_) {
    spdlog::debug("history uses {} bytes, above the {} byte limit: dropping data before ts {}",
                  used, options_.max_bytes, advanced);
    size_cutoff_ms_ = std::min(advanced, now_ms);
  }
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
