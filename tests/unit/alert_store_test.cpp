// Alert transitions in the history file: written in the tick's transaction, read back as text
// statuses through alert_log and as states by HistoryReader, kept by retention when they are an
// instance's latest, and added to files of the previous schema version in place.
#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "storage/history_reader.h"
#include "storage/schema.h"
#include "storage/store.h"
#include "tests/support/alert_transition_support.h"
#include "tests/support/history_file_test.h"

namespace ipctrail {
namespace {

namespace fs = std::filesystem;
using testing::transition;

constexpr std::int64_t kT0 = 1'795'000'000'000;
constexpr const char* kSemaphores = "semaphores_used";
constexpr const char* kQueueBytes = "message_queue_bytes_used";
constexpr const char* kSemaphoreChart = "system.ipc_semaphores";
constexpr const char* kQueueChart = "system.message_queue_bytes";

class AlertStoreTest : public testing::HistoryFileTest {
 protected:
  static TickRecord tick(std::int64_t ts, std::uint64_t semaphores,
                         std::vector<AlertTransition> transitions = {}) {
    TickRecord record;
    record.ts_ms = ts;
    record.interval_ms = 1000;
    record.charts.push_back(
        {Chart{"system.ipc_semaphores", "semaphores", {{"semaphores", semaphores}}}, {}});
    record.alert_transitions = std::move(transitions);
    return record;
  }
};

TEST_F(AlertStoreTest, TransitionsAreWrittenWithTheTickAndReadableAsText) {
  {
    Store store(options());
    store.write_tick(tick(kT0, 9,
                          {transition(kT0, kSemaphores, kSemaphoreChart, "",
                                      AlertStatus::kUninitialized, AlertStatus::kWarning, 90.0,
                                      "9 of 10 semaphore arrays in use (90% of semmni)")}));
    AlertTransition critical = transition(kT0 + 1000, kQueueBytes, kQueueChart, "65538",
                                          AlertStatus::kWarning, AlertStatus::kCritical, 97.5);
    critical.old_value = 85.25;
    critical.crit = 95;
    store.write_tick(tick(kT0 + 1000, 9, {critical}));
  }
  SQLite::Database db(path_, SQLite::OPEN_READONLY);
  SQLite::Statement first(db,
                          "SELECT ts, time, alert, chart, instance, old_status, new_status, "
                          "old_value, new_value, warn, crit, summary, old_status_code, "
                          "new_status_code FROM alert_log ORDER BY ts");
  ASSERT_TRUE(first.executeStep());
  EXPECT_EQ(first.getColumn(0).getInt64(), kT0);
  EXPECT_EQ(first.getColumn(1).getString(), "2026-11-18T11:06:40.000Z");
  EXPECT_EQ(first.getColumn(2).getString(), "semaphores_used");
  EXPECT_EQ(first.getColumn(3).getString(), "system.ipc_semaphores");
  EXPECT_EQ(first.getColumn(4).getString(), "");
  EXPECT_EQ(first.getColumn(5).getString(), "UNINITIALIZED");
  EXPECT_EQ(first.getColumn(6).getString(), "WARNING");
  EXPECT_TRUE(first.getColumn(7).isNull());
  EXPECT_DOUBLE_EQ(first.getColumn(8).getDouble(), 90.0);
  EXPECT_DOUBLE_EQ(first.getColumn(9).getDouble(), 80.0);
  EXPECT_TRUE(first.getColumn(10).isNull());  // no critical level configured
  EXPECT_EQ(first.getColumn(11).getString(), "9 of 10 semaphore arrays in use (90% of semmni)");
  EXPECT_EQ(first.getColumn(12).getInt(), 0);
  EXPECT_EQ(first.getColumn(13).getInt(), 3);
  ASSERT_TRUE(first.executeStep());
  EXPECT_EQ(first.getColumn(4).getString(), "65538");
  EXPECT_EQ(first.getColumn(5).getString(), "WARNING");
  EXPECT_EQ(first.getColumn(6).getString(), "CRITICAL");
  EXPECT_DOUBLE_EQ(first.getColumn(7).getDouble(), 85.25);
  EXPECT_DOUBLE_EQ(first.getColumn(10).getDouble(), 95.0);
  EXPECT_FALSE(first.executeStep());
}

TEST_F(AlertStoreTest, TheViewNamesEveryStatusAsTheEngineDoes) {
  constexpr AlertStatus kAll[] = {AlertStatus::kRemoved,       AlertStatus::kUndefined,
                                  AlertStatus::kUninitialized, AlertStatus::kClear,
                                  AlertStatus::kRaised,        AlertStatus::kWarning,
                                  AlertStatus::kCritical};
  {
    Store store(options());
    std::vector<AlertTransition> transitions;
    for (AlertStatus status : kAll) {
      transitions.push_back(transition(kT0, kSemaphores, kSemaphoreChart, "",
                                       AlertStatus::kUninitialized, status, std::nullopt));
    }
    store.write_tick(tick(kT0, 1, transitions));
  }
  for (AlertStatus status : kAll) {
    int code = static_cast<int>(status);
    EXPECT_EQ(
        text("SELECT new_status FROM alert_log WHERE new_status_code = " + std::to_string(code)),
        status_name(status))
        << code;
  }
}

// A tick that fails after some of its rows were written leaves neither its values nor its
// transitions: a trigger makes the failure happen mid-transaction, on either table.
TEST_F(AlertStoreTest, AFailedTickWritesNeitherValuesNorTransitions) {
  Store store(options());
  store.write_tick(tick(kT0, 1));
  {
    SQLite::Database other(path_, SQLite::OPEN_READWRITE);
    other.exec(
        "CREATE TRIGGER refuse_alert BEFORE INSERT ON alert_transitions WHEN NEW.instance = "
        "'refused' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END");
    other.exec(
        "CREATE TRIGGER refuse_point BEFORE INSERT ON points WHEN NEW.value = 666 "
        "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END");
  }
  EXPECT_THROW(
      store.write_tick(tick(kT0 + 1000, 2,
                            {transition(kT0 + 1000, kQueueBytes, kQueueChart, "refused",
                                        AlertStatus::kClear, AlertStatus::kWarning, 81.0)})),
      SQLite::Exception);
  EXPECT_THROW(
      store.write_tick(tick(kT0 + 2000, 666,
                            {transition(kT0 + 2000, kSemaphores, kSemaphoreChart, "",
                                        AlertStatus::kClear, AlertStatus::kWarning, 81.0)})),
      SQLite::Exception);
  EXPECT_EQ(number("SELECT count(*) FROM points WHERE ts > " + std::to_string(kT0)), 0);
  EXPECT_EQ(number("SELECT count(*) FROM alert_transitions"), 0);

  store.write_tick(tick(kT0 + 3000, 3,
                        {transition(kT0 + 3000, kSemaphores, kSemaphoreChart, "",
                                    AlertStatus::kClear, AlertStatus::kWarning, 81.0)}));
  EXPECT_EQ(number("SELECT value FROM history WHERE ts = " + std::to_string(kT0 + 3000)), 3);
  EXPECT_EQ(number("SELECT count(*) FROM alert_log WHERE new_status = 'WARNING'"), 1);
}

TEST_F(AlertStoreTest, StatesAtATimeAreEachInstancesLatestTransitionThen) {
  {
    Store store(options());
    store.write_tick(tick(kT0, 1,
                          {transition(kT0, kSemaphores, kSemaphoreChart, "",
                                      AlertStatus::kUninitialized, AlertStatus::kClear, 10.0),
                           transition(kT0, kQueueBytes, kQueueChart, "10", AlertStatus::kClear,
                                      AlertStatus::kWarning, 85.0),
                           transition(kT0, kQueueBytes, kQueueChart, "9", AlertStatus::kClear,
                                      AlertStatus::kWarning, 82.0)}));
    store.write_tick(
        tick(kT0 + 10'000, 1,
             {transition(kT0 + 10'000, kSemaphores, kSemaphoreChart, "", AlertStatus::kClear,
                         AlertStatus::kWarning, 90.0),
              transition(kT0 + 10'000, kQueueBytes, kQueueChart, "9", AlertStatus::kWarning,
                         AlertStatus::kRemoved, std::nullopt)}));
  }
  HistoryReader reader(path_);
  EXPECT_TRUE(reader.alert_states_at(kT0 - 1).empty());

  std::vector<AlertRecord> before = reader.alert_states_at(kT0 + 9'999);
  ASSERT_EQ(before.size(), 3u);
  EXPECT_EQ(before[0].alert, "message_queue_bytes_used");
  EXPECT_EQ(before[0].instance, "9");  // msqids in numeric order
  EXPECT_EQ(before[1].instance, "10");
  EXPECT_EQ(before[2].alert, "semaphores_used");
  EXPECT_EQ(before[2].new_status, AlertStatus::kClear);

  Snapshot after = reader.snapshot_at(kT0 + 10'000);
  ASSERT_EQ(after.alerts.size(), 2u);  // queue 9 went REMOVED
  EXPECT_EQ(after.alerts[0].instance, "10");
  EXPECT_EQ(after.alerts[1].new_status, AlertStatus::kWarning);
  EXPECT_EQ(after.alerts[1].new_value, 90.0);
  EXPECT_EQ(after.alerts[1].ts_ms, kT0 + 10'000);

  std::vector<AlertRecord> log = reader.alert_transitions(kT0 + 1, kT0 + 10'000);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].old_status, AlertStatus::kWarning);
  EXPECT_EQ(log[1].new_status, AlertStatus::kRemoved);
  EXPECT_EQ(log[1].new_value, std::nullopt);
}

TEST_F(AlertStoreTest, RetentionKeepsEachInstancesLatestTransitionWhateverItsAge) {
  StoreOptions opts = options();
  opts.retention.max_age = std::chrono::hours(2);
  opts.retention.every = std::chrono::milliseconds(0);
  Store store(opts);
  const std::int64_t hour = 3'600'000;
  std::int64_t end = kT0 + 10 * hour;
  for (std::int64_t ts = kT0; ts <= end; ts += 60'000) {
    std::vector<AlertTransition> transitions;
    if (ts == kT0) {
      transitions = {transition(ts, kSemaphores, kSemaphoreChart, "", AlertStatus::kUninitialized,
                                AlertStatus::kClear, 10.0),
                     transition(ts, kQueueBytes, kQueueChart, "7", AlertStatus::kClear,
                                AlertStatus::kWarning, 85.0)};
    } else if (ts == kT0 + hour) {
      transitions = {transition(ts, kSemaphores, kSemaphoreChart, "", AlertStatus::kClear,
                                AlertStatus::kWarning, 85.0),
                     transition(ts, kQueueBytes, kQueueChart, "7", AlertStatus::kWarning,
                                AlertStatus::kRemoved, std::nullopt)};
    } else if (ts == end - hour) {
      transitions = {transition(ts, kQueueBytes, kQueueChart, "8", AlertStatus::kClear,
                                AlertStatus::kWarning, 81.0),
                     transition(ts, kQueueBytes, kQueueChart, "8", AlertStatus::kWarning,
                                AlertStatus::kCritical, 96.0)};
    }
    TickRecord record = tick(ts, 1, std::move(transitions));
    record.interval_ms = 60'000;
    store.write_tick(record);
  }
  // Older than the two hours kept: only the latest of each instance remains.
  EXPECT_EQ(
      number("SELECT count(*) FROM alert_transitions WHERE ts < " + std::to_string(end - 2 * hour)),
      2);
  EXPECT_EQ(text("SELECT new_status FROM alert_log WHERE alert = 'semaphores_used'"), "WARNING");
  EXPECT_EQ(text("SELECT new_status FROM alert_log WHERE instance = '7'"), "REMOVED");
  // Within the age limit every transition stays.
  EXPECT_EQ(number("SELECT count(*) FROM alert_log WHERE instance = '8'"), 2);

  HistoryReader reader(path_);
  std::vector<AlertRecord> now = reader.alert_states_at(end);
  ASSERT_EQ(now.size(), 2u);
  EXPECT_EQ(now[0].instance, "8");
  EXPECT_EQ(now[0].new_status, AlertStatus::kCritical);
  EXPECT_EQ(now[1].alert, "semaphores_used");
  EXPECT_EQ(now[1].ts_ms, kT0 + hour);
}

TEST_F(AlertStoreTest, UpgradesAVersion2FileInPlace) {
  fs::create_directories(dir_);
  {
    SQLite::Database old(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    migrate(old, path_.string(), 2);
    old.exec("INSERT INTO charts VALUES ('system.ipc_semaphores', 'semaphores')");
    old.exec(
        "INSERT INTO series (id, chart, dimension) VALUES (1, 'system.ipc_semaphores', "
        "'semaphores')");
    old.exec("INSERT INTO points VALUES (" + std::to_string(kT0) + ", 1, 9)");
    old.exec("INSERT INTO sampling_spans (start_ts, last_ts, interval_ms) VALUES (" +
             std::to_string(kT0) + ", " + std::to_string(kT0) + ", 1000)");
    ASSERT_EQ(old.execAndGet("PRAGMA user_version").getInt(), 2);
    EXPECT_THROW(HistoryReader{path_}, HistoryFileError);  // readers ask for an upgrade
  }
  {
    Store store(options());
    store.write_tick(tick(kT0 + 1000, 9,
                          {transition(kT0 + 1000, kSemaphores, kSemaphoreChart, "",
                                      AlertStatus::kUninitialized, AlertStatus::kWarning, 90.0)}));
  }
  EXPECT_EQ(number("PRAGMA user_version"), kSchemaVersion);
  EXPECT_EQ(number("SELECT value FROM history WHERE ts = " + std::to_string(kT0)), 9);
  EXPECT_EQ(text("SELECT new_status FROM alert_log"), "WARNING");
  HistoryReader reader(path_);
  EXPECT_EQ(reader.snapshot_at(kT0 + 1000).alerts.size(), 1u);
}

}  // namespace
}  // namespace ipctrail
