// The size of a history file as it costs on disk: for the tests and benchmarks that hold growth
// to a bound (header-only, so that a benchmark can use it without the test libraries).
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <filesystem>

namespace ipctrail::testing {

// The size of a history file with its write-ahead log folded in (no agent may be writing): what
// the file costs on disk, however far the last checkpoint is.
inline std::uintmax_t checkpointed_size(const std::filesystem::path& path) {
  SQLite::Database(path, SQLite::OPEN_READWRITE).exec("PRAGMA wal_checkpoint(TRUNCATE)");
  return std::filesystem::file_size(path);
}

}  // namespace ipctrail::testing
