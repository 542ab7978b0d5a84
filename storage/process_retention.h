// Retention of the per-process tables (storage/process_store.h): internal to storage/, run by
// Retention in each of its steps with the same cutoff, in bounded batches.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cstdint>

namespace ipctrail {

class ProcessRetention {
 public:
  explicit ProcessRetention(SQLite::Database& db);

  // Deletes, up to `budget` rows of each table: counts, losses and unseen object events before the
  // cutoff, per-process spans that ended before it (clipping the one it cuts), and processes that
  // nothing left refers to (no count, no unseen event, no incarnation they created or removed).
  void delete_before(std::int64_t cutoff_ms, std::int64_t budget);
  // After a failed tick: the error a failed statement would report again.
  void rolled_back() noexcept;

 private:
  SQLite::Statement delete_counts_;
  SQLite::Statement delete_losses_;
  SQLite::Statement delete_unseen_;
  SQLite::Statement delete_spans_;
  SQLite::Statement clip_spans_;
  SQLite::Statement delete_processes_;
};

}  // namespace ipctrail
