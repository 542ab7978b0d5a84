#include "storage/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <system_error>
#include <vector>

#include "storage/schema.h"

namespace ipctrail {

namespace {

namespace fs = std::filesystem;

void create_missing_folders(const fs::path& folder) {
  std::vector<fs::path> missing;
  for (fs::path at = folder; !at.empty() && !fs::exists(at); at = at.parent_path()) {
    missing.push_back(at);
    if (at == at.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0750) != 0 && errno != EEXIST) {
      throw std::system_error(errno, std::generic_category(), "cannot create " + it->string());
    }
    ::chmod(it->c_str(), 0750);  // mkdir's mode passes through the umask
  }
}

// SQLite would create the file with 0644 (less the umask); history is not for every local user.
void create_file_if_missing(const fs::path& path) {
  create_missing_folders(path.parent_path());
  int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0640);
  if (fd < 0) {
    if (errno == EEXIST) return;
    throw std::system_error(errno, std::generic_category(), "cannot create " + path.string());
  }
  ::fchmod(fd, 0640);
  ::close(fd);
}

SQLite::Database open_for_writing(const StoreOptions& options) {
  create_file_if_missing(options.path);
  SQLite::Database db(options.path, SQLite::OPEN_READWRITE,
                      static_cast<int>(options.busy_timeout.count()));
  migrate(db, options.path.string());
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  // Bounds the -wal file left behind after checkpoints, and the page cache: both are memory or
  // disk the agent would otherwise keep forever.
  db.exec("PRAGMA journal_size_limit = 4194304");
  db.exec("PRAGMA cache_size = -2048");
  return db;
}

void bind_optional(SQLite::Statement& statement, int index, std::optional<std::int64_t> value) {
  if (value) {
    statement.bind(index, *value);
  } else {
    statement.bind(index);
  }
}

}  // namespace

std::int64_t stored_value(std::uint64_t value) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(std::min(value, kMax));
}

Store::Store(StoreOptions options)
    : options_(std::move(options)),
      db_(open_for_writing(options_)),
      insert_point_(db_, "INSERT OR REPLACE INTO points (series_id, ts, value) VALUES (?, ?, ?)"),
      find_series_(db_,
                   "SELECT id FROM series WHERE chart = ? AND dimension = ? AND queue_key IS ? "
                   "AND owner_uid IS ? ORDER BY id DESC LIMIT 1"),
      insert_series_(db_,
                     "INSERT INTO series (chart, dimension, queue_key, owner_uid) "
                     "VALUES (?, ?, ?, ?)"),
      insert_chart_(db_,
                    "INSERT INTO charts (id, units) VALUES (?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET units = excluded.units"),
      insert_span_(db_,
                   "INSERT INTO sampling_spans (start_ts, last_ts, interval_ms) VALUES (?, ?, ?)"),
      extend_span_(db_, "UPDATE sampling_spans SET last_ts = ? WHERE id = ?"),
      retention_(db_, options_.retention) {
  reload_state();
}

void Store::reload_state() {
  open_series_.clear();
  known_charts_.clear();
  span_id_.reset();
  SQLite::Statement open_series(db_,
                                "SELECT s.id, s.chart, s.dimension, s.queue_key, s.owner_uid "
                                "FROM series s WHERE (SELECT p.value IS NOT NULL FROM points p "
                                "WHERE p.series_id = s.id ORDER BY p.ts DESC LIMIT 1)");
  while (open_series.executeStep()) {
    OpenSeries series;
    series.id = open_series.getColumn(0).getInt64();
    if (!open_series.getColumn(3).isNull())
      series.labels.queue_key = open_series.getColumn(3).getInt64();
    if (!open_series.getColumn(4).isNull())
      series.labels.owner_uid = open_series.getColumn(4).getInt64();
    std::string key =
        open_series.getColumn(1).getString() + '\x1f' + open_series.getColumn(2).getString();
    open_series_.emplace(std::move(key), series);
  }
  SQLite::Statement charts(db_, "SELECT id FROM charts");
  while (charts.executeStep()) known_charts_.insert(charts.getColumn(0).getString());
  state_stale_ = false;
}

void Store::write_tick(const TickRecord& tick) {
  if (state_stale_) reload_state();
  ++tick_number_;
  db_.exec("BEGIN IMMEDIATE");
  try {
    bool keyframe = false;
    write_span(tick, keyframe);
    for (const ChartRecord& record : tick.charts) write_chart(record, tick.ts_ms, keyframe);
    end_vanished_series(tick.ts_ms);
    retention_.step(tick.ts_ms);
    db_.exec("COMMIT");
  } catch (...) {
    // SQLite may already have rolled back (SQLITE_FULL during commit does).
    if (sqlite3_get_autocommit(db_.getHandle()) == 0) {
      sqlite3_exec(db_.getHandle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
    state_stale_ = true;
    throw;
  }
}

void Store::write_span(const TickRecord& tick, bool& starts_span) {
  auto gap_limit =
      static_cast<std::int64_t>(options_.gap_intervals * static_cast<double>(tick.interval_ms));
  starts_span = !span_id_ || tick.interval_ms != span_interval_ms_ || tick.ts_ms < span_last_ts_ ||
                tick.ts_ms - span_last_ts_ > gap_limit;
  if (starts_span) {
    insert_span_.reset();
    insert_span_.bind(1, tick.ts_ms);
    insert_span_.bind(2, tick.ts_ms);
    insert_span_.bind(3, tick.interval_ms);
    insert_span_.exec();
    span_id_ = db_.getLastInsertRowid();
    span_interval_ms_ = tick.interval_ms;
  } else {
    extend_span_.reset();
    extend_span_.bind(1, tick.ts_ms);
    extend_span_.bind(2, *span_id_);
    extend_span_.exec();
  }
  span_last_ts_ = tick.ts_ms;
}

void Store::write_chart(const ChartRecord& record, std::int64_t ts_ms, bool keyframe) {
  const Chart& chart = record.chart;
  if (!known_charts_.contains(std::string(chart.id))) {
    insert_chart_.reset();
    insert_chart_.bind(1, std::string(chart.id));
    insert_chart_.bind(2, std::string(chart.units));
    insert_chart_.exec();
    known_charts_.emplace(chart.id);
  }
  static const SeriesLabels kNoLabels;
  for (std::size_t i = 0; i < chart.dimensions.size(); ++i) {
    const SeriesLabels& labels = i < record.labels.size() ? record.labels[i] : kNoLabels;
    write_value(ts_ms, chart, chart.dimensions[i], labels, keyframe);
  }
}

void Store::write_value(std::int64_t ts_ms, const Chart& chart, const Dimension& dimension,
                        const SeriesLabels& labels, bool keyframe) {
  std::int64_t value = stored_value(dimension.value);
  key_buffer_.assign(chart.id);
  key_buffer_ += '\x1f';
  key_buffer_ += dimension.name;
  auto found = open_series_.find(key_buffer_);
  if (found != open_series_.end() && found->second.labels == labels) {
    OpenSeries& series = found->second;
    series.seen_in_tick = tick_number_;
    if (keyframe || series.value != value) {
      insert_point(series.id, ts_ms, value);
      series.value = value;
    }
    return;
  }
  // The same msqid now names another queue (other key or owner): end the old queue's series.
  if (found != open_series_.end()) insert_point(found->second.id, ts_ms, std::nullopt);
  std::int64_t id = series_id_for(chart.id, dimension.name, labels);
  insert_point(id, ts_ms, value);
  OpenSeries& series = found != open_series_.end() ? found->second : open_series_[key_buffer_];
  series = OpenSeries{id, labels, value, tick_number_};
}

std::int64_t Store::series_id_for(std::string_view chart, const std::string& dimension,
                                  const SeriesLabels& labels) {
  find_series_.reset();
  find_series_.bind(1, std::string(chart));
  find_series_.bind(2, dimension);
  bind_optional(find_series_, 3, labels.queue_key);
  bind_optional(find_series_, 4, labels.owner_uid);
  if (find_series_.executeStep()) {
    std::int64_t id = find_series_.getColumn(0).getInt64();
    find_series_.reset();
    return id;
  }
  insert_series_.reset();
  insert_series_.bind(1, std::string(chart));
  insert_series_.bind(2, dimension);
  bind_optional(insert_series_, 3, labels.queue_key);
  bind_optional(insert_series_, 4, labels.owner_uid);
  insert_series_.exec();
  return db_.getLastInsertRowid();
}

void Store::insert_point(std::int64_t series_id, std::int64_t ts_ms,
                         std::optional<std::int64_t> value) {
  insert_point_.reset();
  insert_point_.bind(1, series_id);
  insert_point_.bind(2, ts_ms);
  bind_optional(insert_point_, 3, value);
  insert_point_.exec();
}

void Store::end_vanished_series(std::int64_t ts_ms) {
  for (auto it = open_series_.begin(); it != open_series_.end();) {
    if (it->second.seen_in_tick == tick_number_) {
      ++it;
      continue;
    }
    insert_point(it->second.id, ts_ms, std::nullopt);
    it = open_series_.erase(it);
  }
}

}  // namespace ipctrail
