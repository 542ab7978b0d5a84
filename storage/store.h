// The history writer: one tick at a time into the SQLite file, keeping only changes.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>

#include "model/tick_record.h"
#include "storage/retention_options.h"

namespace ipctrail {

struct StoreOptions {
  std::filesystem::path path;
  RetentionOptions retention;
  // How long a tick waits for another writer's lock before it fails (and is dropped).
  std::chrono::milliseconds busy_timeout{500};
  // A tick further than this many intervals after the previous one starts a new sampling span.
  double gap_intervals = 1.5;
};

// SQLite stores signed 64-bit integers; larger values (the kernel's "unlimited" shmmax/shmall
// defaults, 2^64 - 2^24) are stored as INT64_MAX. Rates stay doubles.
StoredValue stored_value(const DimensionValue& value);

class SqliteStore;

class Store {
 public:
  // Creates the file (mode 0640, missing folders 0750) or upgrades an existing ipctrail file.
  // Throws HistoryFileError, before writing anything, for a path that must not be written (a link,
  // not a regular file, read-only, damaged, not ipctrail's, locked by another agent: see
  // storage/writer_guard.h), SQLite::Exception for I/O faults.
  explicit Store(StoreOptions options);

  // Writes one tick in one transaction: the first tick of a sampling span writes every value,
  // later ticks the values that changed (and, once within kRefreshMs, those that did not), and an
  // end marker (NULL) for each series that vanished (not for those of a chart whose source could
  // not be read: unknown is not gone); and the tick's alert transitions. Then a bounded step of
  // retention. On failure (disk full, database locked) the tick is rolled back and the exception
  // propagates; the store stays usable, and the next tick that succeeds starts a new sampling span,
  // so the lost ticks show as a gap. A file deleted or replaced underneath the agent is noticed
  // first (one stat() a tick), logged, and a new file is started at the path, checked like the
  // first.
  void write_tick(const TickRecord& tick);

  const std::filesystem::path& path() const;

  ~Store();
  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;

 private:
  StoreOptions options_;
  std::unique_ptr<SqliteStore> impl_;  // empty after a failed reopen; the next tick tries again
};

}  // namespace ipctrail
