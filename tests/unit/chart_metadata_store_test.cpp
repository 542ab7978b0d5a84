// The history's `charts` table carries each chart's Netdata metadata from the chart table,
// Netdata's names are aliases (chart_aliases, chart_names, history_by_name), and a file of the
// previous schema version gets both in place.
#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "model/chart_table.h"
#include "storage/schema.h"
#include "storage/store.h"

namespace ipctrail {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kT0 = 1'795'000'000'000;
constexpr int kVersionBeforeMetadata = 4;  // schema 5 added the metadata and the aliases

class ChartMetadataStore : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ipctrail-chart-metadata-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = dir_ / "history.db";
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write_tick(std::int64_t ts) {
    StoreOptions options;
    options.path = path_;
    Store store(options);
    TickRecord tick;
    tick.ts_ms = ts;
    tick.interval_ms = 1000;
    tick.charts.push_back({Chart{chart::kSemaphores.id, "semaphores", {{"semaphores", 4u}}}, {}});
    tick.charts.push_back(
        {Chart{chart::kQueueMessages.id, "messages", {{"7", 2u}}}, {{SeriesLabels{42, 1000}}}});
    store.write_tick(tick);
  }

  std::string text(const std::string& sql) {
    SQLite::Database db(path_, SQLite::OPEN_READONLY);
    return db.execAndGet(sql).getString();
  }
  std::int64_t number(const std::string& sql) {
    SQLite::Database db(path_, SQLite::OPEN_READONLY);
    return db.execAndGet(sql).getInt64();
  }

  // "title|family|context|chart_type|priority" of a charts row.
  std::string metadata(std::string_view id) {
    return text(
        "SELECT title || '|' || family || '|' || context || '|' || chart_type || '|' || "
        "priority FROM charts WHERE id = '" +
        std::string(id) + "'");
  }

  fs::path dir_;
  fs::path path_;
};

TEST_F(ChartMetadataStore, EveryChartRowCarriesTheTablesMetadata) {
  write_tick(kT0);
  EXPECT_EQ(metadata("system.ipc_semaphores"),
            "IPC Semaphores|ipc semaphores|system.ipc_semaphores|area|1203");
  EXPECT_EQ(metadata("system.message_queue_message"),
            "IPC Message Queue Number of Messages|ipc message queues|"
            "system.message_queue_messages|stacked|1201");
}

TEST_F(ChartMetadataStore, NetdatasNameFindsTheSameRows) {
  write_tick(kT0);
  EXPECT_EQ(text("SELECT chart FROM chart_aliases WHERE alias = 'system.message_queue_messages'"),
            "system.message_queue_message");
  EXPECT_EQ(text("SELECT chart FROM chart_names WHERE name = 'system.message_queue_messages'"),
            "system.message_queue_message");
  EXPECT_EQ(text("SELECT chart FROM chart_names WHERE name = 'system.ipc_semaphores'"),
            "system.ipc_semaphores");
  EXPECT_EQ(number("SELECT count(*) FROM history_by_name "
                   "WHERE name = 'system.message_queue_messages' AND dimension = '7' "
                   "AND value = 2 AND queue_key = 42 AND chart = 'system.message_queue_message'"),
            1);
  EXPECT_EQ(number("SELECT count(*) FROM history_by_name WHERE name = "
                   "'system.message_queue_message'"),
            1);
  // The history view keeps one row per value.
  EXPECT_EQ(number("SELECT count(*) FROM history"), 2);
}

TEST_F(ChartMetadataStore, AFileOfThePreviousVersionGetsThemInPlace) {
  {
    SQLite::Database old(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    migrate(old, path_.string(), kVersionBeforeMetadata);
    old.exec("INSERT INTO charts VALUES ('system.message_queue_message', 'messages')");
    old.exec(
        "INSERT INTO series (id, chart, dimension, queue_key, owner_uid) VALUES "
        "(1, 'system.message_queue_message', '7', 42, 1000)");
    old.exec("INSERT INTO points VALUES (" + std::to_string(kT0) + ", 1, 3)");
    ASSERT_EQ(old.execAndGet("PRAGMA user_version").getInt(), kVersionBeforeMetadata);
  }
  write_tick(kT0 + 1000);
  EXPECT_EQ(number("PRAGMA user_version"), kSchemaVersion);
  EXPECT_EQ(metadata("system.message_queue_message"),
            "IPC Message Queue Number of Messages|ipc message queues|"
            "system.message_queue_messages|stacked|1201");
  EXPECT_EQ(metadata("system.ipc_semaphores"),
            "IPC Semaphores|ipc semaphores|system.ipc_semaphores|area|1203");
  // The old row and the new one, under Netdata's name too.
  EXPECT_EQ(number("SELECT count(*) FROM history_by_name "
                   "WHERE name = 'system.message_queue_messages'"),
            2);
  EXPECT_EQ(number("SELECT value FROM history WHERE ts = " + std::to_string(kT0)), 3);
}

}  // namespace
}  // namespace ipctrail
