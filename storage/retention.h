// Retention by age and by size, done a little at a time inside each tick's transaction so it never
// stalls a tick, with incremental vacuum so the file shrinks after deletions.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <chrono>
#include <cstdint>

namespace ipctrail {

struct RetentionOptions {
  std::chrono::milliseconds max_age = std::chrono::days(30);
  std::uint64_t max_bytes = std::uint64_t{1} << 30;
  // Bounds on one step's work.
  int series_per_step = 64;
  int rows_per_step = 2000;
  int vacuum_pages_per_step = 128;
};

class Retention {
 public:
  Retention(SQLite::Database& db, RetentionOptions options);

  // Deletes up to rows_per_step rows older than the cutoff, visiting up to series_per_step series
  // round-robin. Each series keeps its latest row at or before the cutoff (the value still in
  // effect), unless that row is an end marker. When a full pass over the series ends with the
  // file above max_bytes, the cutoff moves forward by a tenth of the remaining time range.
  void step(std::int64_t now_ms);

 private:
  void trim_series(std::int64_t series_id, std::int64_t cutoff_ms, int& row_budget);
  void finish_pass(std::int64_t now_ms, std::int64_t cutoff_ms);
  void vacuum_some();
  std::uint64_t used_bytes();

  SQLite::Database& db_;
  RetentionOptions options_;
  SQLite::Statement next_series_;
  SQLite::Statement kept_row_;
  SQLite::Statement delete_rows_;
  SQLite::Statement delete_empty_series_;
  SQLite::Statement delete_spans_;
  SQLite::Statement clip_spans_;     // data before the cutoff is gone, so is that part of its span
  std::int64_t cursor_ = 0;          // last series id fully trimmed in this pass
  std::int64_t size_cutoff_ms_ = 0;  // moved forward only while the file is above max_bytes
};

}  // namespace ipctrail
