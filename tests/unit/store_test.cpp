// The history store on real SQLite files: change-only rows, end markers, spans, migrations,
// retention, file modes, and surviving a locked database.
#include "storage/store.h"

#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>

#include "storage/history_reader.h"
#include "storage/schema.h"
#include "tests/support/history_file_test.h"

namespace ipctrail {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kT0 = 1'795'000'000'000;
const std::optional<StoredValue> kFive = StoredValue{std::int64_t{5}};

class StoreTest : public testing::HistoryFileTest {
 protected:
  StoreTest() : HistoryFileTest("history/history.db") {}

  static TickRecord tick(std::int64_t ts, std::uint64_t semaphores,
                         std::vector<std::pair<std::string, std::uint64_t>> queues = {},
                         std::int64_t queue_key = 42) {
    TickRecord record;
    record.ts_ms = ts;
    record.interval_ms = 1000;
    record.charts.push_back(
        {Chart{"system.ipc_semaphores", "semaphores", {{"semaphores", semaphores}}}, {}});
    ChartRecord messages{Chart{"system.message_queue_message", "messages", {}}, {}};
    for (auto& [msqid, value] : queues) {
      messages.chart.dimensions.push_back({msqid, value});
      messages.labels.push_back({queue_key, 1000});
    }
    record.charts.push_back(std::move(messages));
    return record;
  }
};

TEST_F(StoreTest, KeepsOnlyChangesAndEndsVanishedSeries) {
  {
    Store store(options());
    store.write_tick(tick(kT0, 5, {{"7", 1}, {"8", 0}}));
    store.write_tick(tick(kT0 + 1000, 5, {{"7", 1}, {"8", 0}}));
    store.write_tick(tick(kT0 + 2000, 6, {{"7", 3}}));  // queue 8 vanished
  }
  EXPECT_EQ(number("SELECT count(*) FROM points"), 3 + 2 + 1);
  EXPECT_EQ(number("SELECT value FROM history WHERE chart = 'system.ipc_semaphores' AND ts <= " +
                   std::to_string(kT0 + 1500) + " ORDER BY ts DESC LIMIT 1"),
            5);
  EXPECT_EQ(
      number("SELECT count(*) FROM history WHERE dimension = '8' AND value IS NULL AND ts = " +
             std::to_string(kT0 + 2000)),
      1);
  EXPECT_EQ(number("SELECT queue_key FROM history WHERE dimension = '7' LIMIT 1"), 42);
  EXPECT_EQ(number("SELECT owner_uid FROM history WHERE dimension = '7' LIMIT 1"), 1000);
  EXPECT_EQ(number("SELECT count(*) FROM series WHERE ended_ts IS NOT NULL"), 1);
  EXPECT_EQ(number("SELECT count(*) FROM spans"), 1);
  EXPECT_EQ(number("SELECT last_ts FROM spans"), kT0 + 2000);
}

TEST_F(StoreTest, ReusedMsqidWithAnotherKeyIsANewSeries) {
  Store store(options());
  store.write_tick(tick(kT0, 1, {{"7", 1}}, 42));
  store.write_tick(tick(kT0 + 1000, 1, {{"7", 1}}, 43));
  EXPECT_EQ(number("SELECT count(*) FROM series WHERE dimension = '7'"), 2);
  EXPECT_EQ(number("SELECT count(*) FROM history WHERE dimension = '7' AND queue_key = 42 AND "
                   "value IS NULL"),
            1);
  EXPECT_EQ(number("SELECT value FROM history WHERE dimension = '7' AND queue_key = 43"), 1);
}

TEST_F(StoreTest, GapStartsANewSpanThatRestatesEveryValue) {
  {
    Store store(options());
    store.write_tick(tick(kT0, 5, {{"7", 1}}));
    store.write_tick(tick(kT0 + 1000, 5, {{"7", 1}}));
    store.write_tick(tick(kT0 + 10'000, 5, {{"7", 1}}));  // the agent was away for 9 s
  }
  {
    Store reopened(options());  // a restart is a new span too
    reopened.write_tick(tick(kT0 + 11'000, 5, {{"7", 1}}));
  }
  EXPECT_EQ(number("SELECT count(*) FROM sampling_spans"), 3);
  EXPECT_EQ(number("SELECT count(*) FROM points WHERE ts = " + std::to_string(kT0 + 10'000)), 2);
  EXPECT_EQ(number("SELECT count(*) FROM points WHERE ts = " + std::to_string(kT0 + 11'000)), 2);
  HistoryReader reader(path_);
  std::vector<SeriesPoints> grid =
      reader.grid("system.ipc_semaphores", std::nullopt, kT0, kT0 + 10'000, 2000);
  ASSERT_EQ(grid.size(), 1u);
  ASSERT_EQ(grid[0].points.size(), 6u);
  EXPECT_EQ(grid[0].points[0].value, kFive);
  EXPECT_EQ(grid[0].points[1].value, kFive);         // kT0 + 2000: within a span of the last tick
  EXPECT_EQ(grid[0].points[2].value, std::nullopt);  // kT0 + 4000: nobody was sampling
  EXPECT_EQ(grid[0].points[5].value, kFive);
}

TEST_F(StoreTest, UnchangedValuesAreRestatedWithinTheRefreshPeriod) {
  Store store(options());
  for (std::int64_t ts = kT0; ts <= kT0 + 2 * kRefreshMs; ts += 1000) store.write_tick(tick(ts, 5));
  HistoryReader reader(path_);
  // Whatever the time, the value is found within kRefreshMs before it.
  for (std::int64_t at = kT0; at <= kT0 + 2 * kRefreshMs; at += 600'000) {
    Snapshot snapshot = reader.snapshot_at(at);
    ASSERT_EQ(snapshot.values.size(), 1u) << at;
    EXPECT_EQ(snapshot.values[0].point.value, kFive);
  }
  EXPECT_LE(number("SELECT count(*) FROM points"), 6);
}

TEST_F(StoreTest, HugeValuesAreClampedToInt64Max) {
  EXPECT_EQ(stored_value(DimensionValue{18446744073692774399ULL}),
            StoredValue{std::numeric_limits<std::int64_t>::max()});
  EXPECT_EQ(stored_value(DimensionValue{std::uint64_t{12345}}), StoredValue{std::int64_t{12345}});
  EXPECT_EQ(stored_value(DimensionValue{0.1}), StoredValue{0.1});
  Store store(options());
  store.write_tick(tick(kT0, 18446744073692774399ULL));
  EXPECT_EQ(number("SELECT value FROM history"), std::numeric_limits<std::int64_t>::max());
}

TEST_F(StoreTest, FileIs0640AndNewFoldersAre0750) {
  { Store store(options()); }
  struct stat file {};
  struct stat folder {};
  ASSERT_EQ(::stat(path_.c_str(), &file), 0);
  ASSERT_EQ(::stat(path_.parent_path().c_str(), &folder), 0);
  EXPECT_EQ(file.st_mode & 0777, 0640u);
  EXPECT_EQ(folder.st_mode & 0777, 0750u);
  SQLite::Database db(path_, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");
  EXPECT_EQ(db.execAndGet("PRAGMA auto_vacuum").getInt(), 2);  // incremental
  EXPECT_EQ(db.execAndGet("PRAGMA user_version").getInt(), kSchemaVersion);
  EXPECT_EQ(db.execAndGet("PRAGMA application_id").getInt(), kApplicationId);
}

TEST_F(StoreTest, UpgradesAVersion1FileInPlace) {
  fs::create_directories(path_.parent_path());
  {
    SQLite::Database old(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    migrate(old, path_.string(), 1);
    old.exec("INSERT INTO charts VALUES ('system.ipc_semaphores', 'semaphores')");
    old.exec(
        "INSERT INTO series (id, chart, dimension) VALUES (1, 'system.ipc_semaphores', "
        "'semaphores')");
    old.exec("INSERT INTO points VALUES (" + std::to_string(kT0) + ", 1, 9)");
    old.exec("INSERT INTO sampling_spans (start_ts, last_ts, interval_ms) VALUES (" +
             std::to_string(kT0) + ", " + std::to_string(kT0) + ", 1000)");
    ASSERT_EQ(old.execAndGet("PRAGMA user_version").getInt(), 1);
  }
  {
    Store store(options());
    store.write_tick(tick(kT0 + 1000, 9, {{"7", 2}}));
  }
  EXPECT_EQ(number("PRAGMA user_version"), kSchemaVersion);
  EXPECT_EQ(number("SELECT count(*) FROM history WHERE ts = " + std::to_string(kT0) +
                   " AND value = 9 AND queue_key IS NULL"),
            1);
  EXPECT_EQ(number("SELECT queue_key FROM history WHERE dimension = '7'"), 42);
  EXPECT_EQ(number("SELECT count(*) FROM spans"), 2);
  EXPECT_EQ(number("SELECT count(*) FROM alert_log"), 0);  // through version 3 too
}

// Up to version 3 the call charts held REAL calls per second; now each tick's calls. A rate held
// for each tick of its span, so rate x the span's interval is each tick's calls. (The file is made
// at version 3, the one before the conversion.)
TEST_F(StoreTest, UpgradesCallRatesToCountsPerTick) {
  fs::create_directories(path_.parent_path());
  std::string t0 = std::to_string(kT0);
  {
    SQLite::Database old(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    migrate(old, path_.string(), 3);  // before the counts-per-tick step (version 4)
    old.exec(
        "INSERT INTO charts (id, units) VALUES ('system.ipc_semaphore_calls', 'calls/s'), "
        "('system.ipc_call_errors', 'calls/s'), ('system.ipc_semaphores', 'semaphores')");
    old.exec(
        "INSERT INTO series (id, chart, dimension) VALUES (1, 'system.ipc_semaphore_calls', "
        "'semget'), (2, 'system.ipc_call_errors', 'semget_ENOSPC'), "
        "(3, 'system.ipc_semaphores', 'semaphores')");
    // A 10 s span from kT0 + 10 s, a 1 s span from kT0 + 100 s; the first row predates every span
    // (retention clipped its span's start), so the span after it tells its interval.
    old.exec("INSERT INTO sampling_spans (start_ts, last_ts, interval_ms) VALUES (" + t0 +
             " + 10000, " + t0 + " + 60000, 10000), (" + t0 + " + 100000, " + t0 +
             " + 120000, 1000)");
    old.exec("INSERT INTO points VALUES (" + t0 + ", 1, 0.2), (" + t0 + " + 10000, 1, 2.5), (" +
             t0 + " + 20000, 1, 0.30000000000000004), (" + t0 + " + 30000, 1, 0.0), (" + t0 +
             " + 100000, 1, 16.6), (" + t0 + " + 120000, 1, NULL), (" + t0 +
             " + 20000, 2, 0.1), (" + t0 + " + 10000, 3, 9)");
  }
  { Store store(options()); }
  EXPECT_EQ(number("PRAGMA user_version"), kSchemaVersion);
  auto value_at = [&](int series, std::int64_t offset) {
    return number("SELECT value FROM points WHERE series_id = " + std::to_string(series) +
                  " AND ts = " + std::to_string(kT0 + offset));
  };
  EXPECT_EQ(value_at(1, 0), 2);
  EXPECT_EQ(value_at(1, 10'000), 25);
  EXPECT_EQ(value_at(1, 20'000), 3);
  EXPECT_EQ(value_at(1, 30'000), 0);
  EXPECT_EQ(value_at(1, 100'000), 17);  // 16.6 calls in a 1 s tick: rounded to the nearest call
  EXPECT_EQ(value_at(2, 20'000), 1);
  EXPECT_EQ(value_at(3, 10'000), 9);
  EXPECT_EQ(number("SELECT count(*) FROM points WHERE value IS NULL"), 1) << "end markers stay";
  EXPECT_EQ(number("SELECT count(*) FROM points WHERE typeof(value) = 'real'"), 0);
  EXPECT_EQ(number("SELECT count(*) FROM charts WHERE units = 'calls'"), 2);
  EXPECT_EQ(number("SELECT count(*) FROM charts WHERE units = 'semaphores'"), 1);
}

TickRecord call_tick(std::int64_t ts, std::uint64_t semget_calls) {
  TickRecord record;
  record.ts_ms = ts;
  record.interval_ms = 1000;
  record.charts.push_back({Chart{"system.ipc_semaphore_calls",
                                 "calls",
                                 {{"semget", semget_calls}, {"semop", std::uint64_t{0}}}},
                           {}});
  return record;
}

// Only changes are stored, so a count holds for each tick until the next row: the sums count
// every tick of the sampling spans, wherever a tick's clock put it, and nothing outside them.
TEST_F(StoreTest, StepSumsAddTheCountsOfEveryTickInTheStep) {
  {
    Store store(options());
    // Ticks 0-4: 2 calls each; 5-6: none; 7-9: 3 each (a few ms off the grid, as real ticks are).
    for (std::int64_t tick = 0; tick < 10; ++tick) {
      std::uint64_t calls = tick < 5 ? 2 : tick < 7 ? 0 : 3;
      store.write_tick(call_tick(kT0 + tick * 1000 + (tick % 3) * 7, calls));
    }
    // The agent was away; then three more ticks of 1 call each.
    for (std::int64_t tick = 20; tick < 23; ++tick)
      store.write_tick(call_tick(kT0 + tick * 1000, 1));
  }
  EXPECT_LT(number("SELECT count(*) FROM points"), 13 * 2) << "only changes are stored";
  HistoryReader reader(path_);
  std::vector<SeriesSums> sums = reader.step_sums("system.ipc_semaphore_calls",
                                                  std::string("semget"), kT0, kT0 + 24'000, 5000);
  ASSERT_EQ(sums.size(), 1u);
  const std::vector<StepSum>& steps = sums[0].steps;
  ASSERT_EQ(steps.size(), 5u);
  EXPECT_EQ(steps[0].sum, 10);  // ticks 0-4
  EXPECT_EQ(steps[0].sampled_ms, 5000);
  EXPECT_EQ(steps[1].sum, 9);  // ticks 5-9
  EXPECT_EQ(steps[1].sampled_ms, 5000);
  EXPECT_EQ(steps[2].sum, std::nullopt);  // kT0 + 10 s to 15 s: not sampled
  EXPECT_EQ(steps[3].sum, std::nullopt);
  EXPECT_EQ(steps[4].sum, 3);  // ticks 20-22
  EXPECT_EQ(steps[4].sampled_ms, 3000);
  EXPECT_EQ(steps[4].ts_ms, kT0 + 20'000);

  // One step over everything: every call once; a step starting mid-run counts from there.
  std::vector<SeriesSums> whole =
      reader.step_sums("system.ipc_semaphore_calls", std::nullopt, kT0, kT0, 60'000);
  ASSERT_EQ(whole.size(), 2u);
  EXPECT_EQ(whole[0].series.dimension, "semop");  // shorter names first, as msqids
  EXPECT_EQ(whole[0].steps.at(0).sum, 0);
  EXPECT_EQ(whole[1].series.dimension, "semget");
  EXPECT_EQ(whole[1].steps.at(0).sum, 22);
  EXPECT_EQ(whole[1].steps.at(0).sampled_ms, 13'000);
  std::vector<SeriesSums> late = reader.step_sums(
      "system.ipc_semaphore_calls", std::string("semget"), kT0 + 3500, kT0 + 3500, 60'000);
  EXPECT_EQ(late.at(0).steps.at(0).sum, 2 + 9 + 3);  // ticks 4-9 and 20-22
}

TEST_F(StoreTest, RefusesFilesThatAreNotIpctrails) {
  fs::create_directories(path_.parent_path());
  {
    SQLite::Database other(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    other.exec("CREATE TABLE t (x)");
  }
  EXPECT_THROW(Store{options()}, HistoryFileError);
  EXPECT_THROW(HistoryReader{path_}, HistoryFileError);
  EXPECT_THROW(HistoryReader{dir_ / "missing.db"}, HistoryFileError);
  fs::remove(path_);
  { Store store(options()); }
  {
    SQLite::Database newer(path_, SQLite::OPEN_READWRITE);
    newer.exec("PRAGMA user_version = " + std::to_string(kSchemaVersion + 1));
  }
  EXPECT_THROW(Store{options()}, HistoryFileError);
}

std::string file_bytes(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// Issue 10 item 11: an empty SQLite file of another application (no tables, but its own
// user_version) had its application_id and auto_vacuum changed before it was refused.
TEST_F(StoreTest, AnEmptySqliteFileOfAnotherApplicationIsRefusedUnchanged) {
  fs::create_directories(path_.parent_path());
  {
    SQLite::Database other(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    other.exec("PRAGMA user_version = 7");
  }
  std::string before = file_bytes(path_);
  ASSERT_FALSE(before.empty());
  EXPECT_THROW(Store{options()}, HistoryFileError);
  EXPECT_EQ(file_bytes(path_), before);
  EXPECT_EQ(number("PRAGMA application_id"), 0);
  EXPECT_EQ(number("PRAGMA auto_vacuum"), 0);
}

// Issue 10 item 8: one writer per file; the refusal names the writer.
TEST_F(StoreTest, ASecondWriterOnTheSameFileIsRefusedNamingTheFirst) {
  Store first(options());
  first.write_tick(tick(kT0, 1));
  try {
    Store second(options());
    FAIL() << "a second writer was let in";
  } catch (const HistoryFileError& error) {
    EXPECT_NE(std::string(error.what()).find("pid " + std::to_string(::getpid())),
              std::string::npos)
        << error.what();
  }
  first.write_tick(tick(kT0 + 1000, 2));
  EXPECT_EQ(number("SELECT count(*) FROM spans"), 1);
}

// Issue 10 item 7: a chart whose source could not be read is unknown, not empty.
TEST_F(StoreTest, AChartThatWasNotCollectedKeepsItsSeriesOpen) {
  Store store(options());
  store.write_tick(tick(kT0, 1, {{"7", 5}, {"8", 6}}));
  TickRecord unknown = tick(kT0 + 1000, 1);
  unknown.charts[1].collected = false;
  store.write_tick(unknown);
  store.write_tick(tick(kT0 + 2000, 1, {{"7", 5}}));
  EXPECT_EQ(number("SELECT count(*) FROM points WHERE ts = " + std::to_string(kT0 + 1000)), 0);
  EXPECT_EQ(number("SELECT ended_ts FROM series WHERE dimension = '8'"), kT0 + 2000);
  EXPECT_EQ(number("SELECT count(*) FROM series WHERE ended_ts IS NOT NULL"), 1);
}

TEST_F(StoreTest, RetentionByAgeKeepsTheValueInEffect) {
  StoreOptions opts = options();
  opts.retention.max_age = std::chrono::hours(2);
  opts.retention.every = std::chrono::milliseconds(0);
  Store store(opts);
  // Ten hours of 10-second ticks; the semaphores value changes every tick until hour 5.
  std::int64_t end = kT0 + 10 * 3'600'000;
  for (std::int64_t ts = kT0; ts <= end; ts += 10'000) {
    std::uint64_t value =
        ts < kT0 + 5 * 3'600'000 ? static_cast<std::uint64_t>(ts / 10'000 % 97) : 1;
    TickRecord record = tick(ts, value);
    record.interval_ms = 10'000;
    store.write_tick(record);
  }
  std::int64_t cutoff = end - 2 * 3'600'000;
  EXPECT_EQ(number("SELECT count(*) FROM points WHERE ts < " + std::to_string(cutoff - kRefreshMs)),
            0);
  EXPECT_EQ(number("SELECT min(start_ts) FROM sampling_spans"), cutoff);
  HistoryReader reader(path_);
  Snapshot at_cutoff = reader.snapshot_at(cutoff);
  ASSERT_EQ(at_cutoff.values.size(), 1u);
  EXPECT_EQ(at_cutoff.values[0].point.value, std::optional<StoredValue>(std::int64_t{1}));
}

TEST_F(StoreTest, RetentionBySizeBoundsTheFile) {
  StoreOptions opts = options();
  opts.retention.max_bytes = 1 << 20;
  opts.retention.every = std::chrono::milliseconds(0);
  Store store(opts);
  std::vector<std::pair<std::string, std::uint64_t>> queues;
  for (int q = 0; q < 50; ++q) queues.emplace_back(std::to_string(q), 0);
  // Twelve hours of 10-second ticks, every value changing: about 4 MB without a limit. The last
  // kRefreshMs (one hour, ~350 KB here) is never deleted, so the limit must be above that.
  for (int i = 0; i < 12 * 360; ++i) {
    for (auto& queue : queues) queue.second = static_cast<std::uint64_t>(i);
    TickRecord record = tick(kT0 + i * 10'000LL, static_cast<std::uint64_t>(i), queues);
    record.interval_ms = 10'000;
    store.write_tick(record);
  }
  SQLite::Database db(path_, SQLite::OPEN_READONLY);
  std::int64_t used = (db.execAndGet("PRAGMA page_count").getInt64() -
                       db.execAndGet("PRAGMA freelist_count").getInt64()) *
                      db.execAndGet("PRAGMA page_size").getInt64();
  EXPECT_LT(used, 2 << 20);
  EXPECT_GT(db.execAndGet("SELECT min(ts) FROM points").getInt64(), kT0 + 3 * 3'600'000);
  EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
}

// Issue 10 item 12: when one tick wrote more rows than a retention step, every step found its
// whole batch at the oldest ts and deleted nothing, for good.
TEST_F(StoreTest, RetentionGetsPastATickOfMoreRowsThanOneStep) {
  StoreOptions opts = options();
  opts.retention.max_age = std::chrono::hours(2);
  opts.retention.rows_per_step = 100;
  Store store(opts);
  std::vector<std::pair<std::string, std::uint64_t>> queues;
  for (int q = 0; q < 300; ++q) queues.emplace_back(std::to_string(q), 1);
  // Six hours of unchanged values: the span's first tick holds 301 rows at one ts.
  for (std::int64_t ts = kT0; ts <= kT0 + 6 * 3'600'000; ts += 10'000) {
    TickRecord record = tick(ts, 1, queues);
    record.interval_ms = 10'000;
    store.write_tick(record);
  }
  EXPECT_EQ(number("SELECT count(*) FROM points WHERE ts = " + std::to_string(kT0)), 0);
  EXPECT_GE(number("SELECT min(ts) FROM points"), kT0 + 6 * 3'600'000 - 2 * 3'600'000 - kRefreshMs);
}

// Issue 10 item 12: ended series were deleted while their points stayed behind a stalled or
// lagging point deletion.
TEST_F(StoreTest, RetentionNeverLeavesPointsOfDeletedSeries) {
  StoreOptions opts = options();
  opts.retention.max_age = std::chrono::hours(1);
  opts.retention.rows_per_step = 10;
  opts.retention.every = std::chrono::milliseconds(0);
  Store store(opts);
  // Three hours of 10-second ticks; each tick two of the twenty queues are new.
  for (int i = 0; i < 3 * 360; ++i) {
    std::vector<std::pair<std::string, std::uint64_t>> queues;
    for (int q = 0; q < 20; ++q) queues.emplace_back(std::to_string(i * 2 + q), 1);
    TickRecord record = tick(kT0 + i * 10'000LL, 1, queues);
    record.interval_ms = 10'000;
    store.write_tick(record);
    if (i % 10 == 0) {
      ASSERT_EQ(
          number("SELECT count(*) FROM points WHERE series_id NOT IN (SELECT id FROM series)"), 0)
          << "after tick " << i;
    }
  }
  EXPECT_GT(number("SELECT min(ts) FROM points"), kT0 + 1'800'000);
}

// Issue 10 item 12: under churn the last hour was never deleted (a 10 MB limit reached 84 MB),
// and ended series were deleted while their points stayed.
TEST_F(StoreTest, RetentionHoldsTheSizeLimitUnderChurnWithoutOrphans) {
  constexpr std::int64_t kMaxBytes = 1 << 20;
  StoreOptions opts = options();
  opts.retention.max_bytes = kMaxBytes;
  Store store(opts);
  // Ten minutes of 100 ms ticks, each with 200 queues of which 20 are new: 3 MB a minute.
  std::int64_t largest = 0;
  std::int64_t ts = kT0;
  for (int i = 0; i < 6000; ++i, ts += 100) {
    std::vector<std::pair<std::string, std::uint64_t>> queues;
    for (int q = 0; q < 200; ++q) {
      queues.emplace_back(std::to_string(i / 10 * 20 + q), static_cast<std::uint64_t>(i));
    }
    TickRecord record = tick(ts, 1, queues);
    record.interval_ms = 100;
    store.write_tick(record);
    if (i % 100 == 0) {
      SQLite::Database db(path_, SQLite::OPEN_READONLY);
      largest = std::max(largest, db.execAndGet("PRAGMA page_count").getInt64() *
                                      db.execAndGet("PRAGMA page_size").getInt64());
    }
  }
  std::cout << "largest file: " << largest << " bytes for a limit of " << kMaxBytes << "\n";
  EXPECT_LE(largest, kMaxBytes * 5 / 4);
  EXPECT_EQ(number("SELECT count(*) FROM points WHERE series_id NOT IN (SELECT id FROM series)"),
            0);
  EXPECT_GT(number("SELECT min(ts) FROM points"), kT0 + 5 * 60'000);
  // The latest tick is whole: every queue's value is found.
  HistoryReader reader(path_);
  Snapshot last = reader.snapshot_at(ts - 100);
  std::size_t queues_found = 0;
  for (const SeriesValue& value : last.values) {
    if (value.series.chart == "system.message_queue_message") ++queues_found;
  }
  EXPECT_EQ(queues_found, 200u);
  SQLite::Database db(path_, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
}

TEST_F(StoreTest, ALockedDatabaseFailsTheTickAndTheNextOneRecovers) {
  StoreOptions opts = options();
  opts.busy_timeout = std::chrono::milliseconds(50);
  Store store(opts);
  store.write_tick(tick(kT0, 1));
  {
    SQLite::Database other(path_, SQLite::OPEN_READWRITE);
    other.exec("BEGIN IMMEDIATE");
    EXPECT_THROW(store.write_tick(tick(kT0 + 1000, 2)), SQLite::Exception);
    other.exec("ROLLBACK");
  }
  store.write_tick(tick(kT0 + 2000, 3));
  EXPECT_EQ(number("SELECT count(*) FROM points WHERE ts = " + std::to_string(kT0 + 1000)), 0);
  EXPECT_EQ(number("SELECT value FROM history WHERE ts = " + std::to_string(kT0 + 2000)), 3);
  EXPECT_EQ(number("SELECT count(*) FROM spans"), 2);  // the lost tick shows as a gap
}

}  // namespace
}  // namespace ipctrail
