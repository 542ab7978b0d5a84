// The history file's schema: its identity (application_id), its version (user_version) and the
// stepwise migrations that bring any older ipctrail file up to the current version in place.
#pragma once

#include <SQLiteCpp/Database.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "storage/history_file_error.h"

namespace ipctrail {

inline constexpr int kSchemaVersion = 9;
inline constexpr std::int32_t kApplicationId = 0x69707472;  // "iptr"

// Every series that has a value gets a row at least this often, even when the value does not
// change, so "the latest row at or before T" is always found within this much time before T.
inline constexpr std::int64_t kRefreshMs = 3'600'000;

// How long the start-up integrity check may take; a bigger file is only partly checked.
inline constexpr std::chrono::seconds kQuickCheckBudget{3};

// Before the agent writes to a file: throws HistoryFileError, without writing, unless the file
// is new (no tables, no application_id, no user_version) or an ipctrail file, and unless a
// quick_check (bounded by kQuickCheckBudget) finds it intact. The error names the recovery step.
void check_before_writing(SQLite::Database& db, const std::string& path);

// Makes a new, empty database an ipctrail file, or upgrades an ipctrail file one version at a time
// (each step in its own transaction) until it is at `target`. Throws HistoryFileError for a file
// that belongs to something else or to a newer ipctrail.
void migrate(SQLite::Database& db, const std::string& path, int target = kSchemaVersion);

// For readers: throws HistoryFileError unless the file is an ipctrail file at kSchemaVersion.
void require_current_schema(SQLite::Database& db, const std::string& path);

}  // namespace ipctrail
