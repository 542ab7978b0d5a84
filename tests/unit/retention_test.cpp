// Retention driven directly on a real SQLite file, as the store drives it, on a host whose every
// tick starts a sampling span (ticks that overrun their interval): each tick restates every open
// series (a keyframe). The list of keyframes retention remembers must stay bounded by the limits,
// not grow by one a tick, and the age and size limits must still hold without orphaning a point.
#include "storage/retention.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "storage/schema.h"
#include "tests/support/history_file_test.h"

namespace ipctrail {
namespace {

constexpr std::int64_t kT0 = 1'795'000'000'000;
constexpr int kOpenSeries = 8;

// A history file written tick by tick the way SqliteStore writes it, each tick a new span: a span
// row, every open series' value, and every `churn_every` ticks one series ends (its end marker)
// and a new one opens.
class SpanPerTickHistory {
 public:
  SpanPerTickHistory(const std::string& path, RetentionOptions options)
      : db_(open(path)),
        retention_(db_, options),
        insert_span_(
            db_, "INSERT INTO sampling_spans (start_ts, last_ts, interval_ms) VALUES (?, ?, 1)"),
        insert_series_(db_, "INSERT INTO series (chart, dimension) VALUES ('chart', ?)"),
        end_series_(db_, "UPDATE series SET ended_ts = ? WHERE id = ?"),
        insert_point_(db_, "INSERT INTO points (ts, series_id, value) VALUES (?, ?, ?)") {
    for (int i = 0; i < kOpenSeries; ++i) open_.push_back(new_series());
  }

  void tick(std::int64_t ts, int churn_every) {
    db_.exec("BEGIN IMMEDIATE");
    insert_span_.reset();
    insert_span_.bind(1, ts);
    insert_span_.bind(2, ts);
    insert_span_.exec();
    std::int64_t rows = 0;
    if (churn_every > 0 && ++ticks_ % churn_every == 0) {
      point(ts, open_.front(), nullptr);
      end_series_.reset();
      end_series_.bind(1, ts);
      end_series_.bind(2, open_.front());
      end_series_.exec();
      open_.pop_front();
      open_.push_back(new_series());
      ++rows;
    }
    for (std::int64_t series : open_) {
      std::int64_t value = ts % 1000;
      point(ts, series, &value);
      ++rows;
    }
    open_at_.emplace_back(ts, std::vector<std::int64_t>(open_.begin(), open_.end()));
    retention_.step(ts, rows, true);
    db_.exec("COMMIT");
    retention_.committed();
  }

  std::int64_t number(const std::string& sql) { return db_.execAndGet(sql).getInt64(); }
  std::int64_t used_bytes() {
    return (number("PRAGMA page_count") - number("PRAGMA freelist_count")) *
           number("PRAGMA page_size");
  }
  std::int64_t orphaned_points() {
    return number("SELECT count(*) FROM points WHERE series_id NOT IN (SELECT id FROM series)");
  }
  // Series open at the tick `ts` with no row at or before it: their value then is lost.
  std::int64_t open_series_without_value_at(std::int64_t ts) {
    auto at = std::find_if(open_at_.begin(), open_at_.end(),
                           [ts](const auto& tick) { return tick.first == ts; });
    if (at == open_at_.end()) return -1;
    std::int64_t missing = 0;
    for (std::int64_t series : at->second) {
      SQLite::Statement found(db_, "SELECT count(*) FROM points WHERE series_id = ? AND ts <= ?");
      found.bind(1, series);
      found.bind(2, ts);
      found.executeStep();
      if (found.getColumn(0).getInt64() == 0) ++missing;
    }
    return missing;
  }
  const Retention& retention() const { return retention_; }

 private:
  static SQLite::Database open(const std::string& path) {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    migrate(db, path);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = OFF");
    return db;
  }
  std::int64_t new_series() {
    insert_series_.reset();
    insert_series_.bind(1, std::to_string(next_dimension_++));
    insert_series_.exec();
    return db_.getLastInsertRowid();
  }
  void point(std::int64_t ts, std::int64_t series, const std::int64_t* value) {
    insert_point_.reset();
    insert_point_.bind(1, ts);
    insert_point_.bind(2, series);
    if (value) {
      insert_point_.bind(3, *value);
    } else {
      insert_point_.bind(3);
    }
    insert_point_.exec();
  }

  SQLite::Database db_;
  Retention retention_;
  SQLite::Statement insert_span_;
  SQLite::Statement insert_series_;
  SQLite::Statement end_series_;
  SQLite::Statement insert_point_;
  std::deque<std::int64_t> open_;
  std::vector<std::pair<std::int64_t, std::vector<std::int64_t>>> open_at_;  // per tick
  int next_dimension_ = 0;
  int ticks_ = 0;
};

class RetentionTest : public testing::HistoryFileTest {
 protected:
  void SetUp() override {
    HistoryFileTest::SetUp();
    std::filesystem::create_directories(dir_);
  }
};

// 1 ms ticks, each a span of its own, for three times max_age: the list holds about
// max_age / max(every, max_age / 1024) keyframes (it held one per tick of the last max_age), and
// the history keeps max_age plus at most that spacing, with the value at the cutoff still found.
TEST_F(RetentionTest, KeyframesOfSpanPerTickTicksStayBoundedAndTheAgeLimitHolds) {
  RetentionOptions options;
  options.max_age = std::chrono::seconds(10);
  options.every = std::chrono::milliseconds(100);
  const std::int64_t spacing = 100;
  const std::size_t bound = static_cast<std::size_t>(options.max_age.count() / spacing) + 2;
  SpanPerTickHistory history(path_.string(), options);
  std::size_t most_held = 0;
  std::int64_t ts = kT0;
  for (int i = 0; i < 30'000; ++i, ++ts) {
    history.tick(ts, 50);
    most_held = std::max(most_held, history.retention().keyframes_held());
    if (i % 1000 == 999) {
      ASSERT_EQ(history.orphaned_points(), 0) << "after tick " << i;
    }
  }
  std::int64_t now = ts - 1;
  std::int64_t cutoff = now - options.max_age.count();
  std::cout << "keyframes held at most: " << most_held << " over 30,000 ticks (bound " << bound
            << ")\n";
  EXPECT_LE(most_held, bound);
  EXPECT_GE(history.number("SELECT min(ts) FROM points"), cutoff - 2 * spacing);
  EXPECT_EQ(history.open_series_without_value_at(cutoff), 0);
  // A step runs once per `every` of tick time: the spans are clipped to the last step's cutoff.
  EXPECT_GE(history.number("SELECT min(start_ts) FROM sampling_spans"), cutoff - spacing);
  EXPECT_EQ(history.orphaned_points(), 0);
}

// The size limit on the same host, with the default max_age (30 days: the spacing is 42 minutes,
// far longer than the whole history): only the keyframes the size limit asks for are remembered,
// and its cutoff still finds each one it moves to (dropping the keyframe a cutoff pointed at let a
// 2 MiB history reach 5.3 MiB).
TEST_F(RetentionTest, KeyframesOfSpanPerTickTicksStayBoundedAndTheSizeLimitHolds) {
  RetentionOptions options;
  options.max_bytes = 512 * 1024;
  SpanPerTickHistory history(path_.string(), options);
  std::size_t most_held = 0;
  std::int64_t largest = 0;
  std::int64_t ts = kT0;
  for (int i = 0; i < 30'000; ++i, ++ts) {
    history.tick(ts, 5);
    most_held = std::max(most_held, history.retention().keyframes_held());
    if (i % 100 == 99) {
      largest = std::max(largest, history.used_bytes());
      ASSERT_EQ(history.orphaned_points(), 0) << "after tick " << i;
    }
  }
  std::cout << "keyframes held at most: " << most_held << "; largest history " << largest
            << " bytes for a limit of " << options.max_bytes << "\n";
  EXPECT_LE(largest, static_cast<std::int64_t>(options.max_bytes * 5 / 4));
  // About one per eighth of max_bytes written, while the file holds at most 1.25 x max_bytes.
  EXPECT_LE(most_held, 16u);
  EXPECT_GT(history.number("SELECT min(ts) FROM points"), kT0 + 15'000) << "nothing deleted";
  EXPECT_EQ(history.orphaned_points(), 0);
}

}  // namespace
}  // namespace ipctrail
