// A test that writes a history file of its own in a fresh temporary folder, and reads it back with
// plain SQL: the storage tests' common ground, so each of them states only what it writes.
#pragma once

#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "storage/store.h"

namespace ipctrail::testing {

class HistoryFileTest : public ::testing::Test {
 protected:
  // `file` is the history file's path inside the test's folder (a subfolder tests that the store
  // creates it).
  explicit HistoryFileTest(std::filesystem::path file = "history.db") : file_(std::move(file)) {}

  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("ipctrail-" + std::string(test->test_suite_name()) + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    path_ = dir_ / file_;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  StoreOptions options() const {
    StoreOptions options;
    options.path = path_;
    return options;
  }

  // The one value `sql` selects.
  std::int64_t number(const std::string& sql) const {
    SQLite::Database db(path_, SQLite::OPEN_READONLY);
    return db.execAndGet(sql).getInt64();
  }
  // The one value `sql` selects as text; "NULL" for NULL.
  std::string text(const std::string& sql) const {
    SQLite::Database db(path_, SQLite::OPEN_READONLY);
    SQLite::Column column = db.execAndGet(sql);
    return column.isNull() ? "NULL" : column.getString();
  }

  std::filesystem::path file_;
  std::filesystem::path dir_;
  std::filesystem::path path_;
};

}  // namespace ipctrail::testing
