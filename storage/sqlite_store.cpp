#include "storage/sqlite_store.h"

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

template <typename Number>
void bind_optional(SQLite::Statement& statement, int index, std::optional<Number> value) {
  if (value) {
    statement.bind(index, *value);
  } else {
    statement.bind(index);
  }
}

// Spreads refresh rows over time: each series refreshes after between half and all of
// kRefreshMs, at its own fixed phase, so that they never come in one burst.
std::int64_t refresh_after_ms(std::int64_t series_id) {
  auto phase = static_cast<std::int64_t>(static_cast<std::uint64_t>(series_id) *
                                         0x9E3779B97F4A7C15ULL % (kRefreshMs / 2));
  return kRefreshMs / 2 + phase;
}

}  // namespace

StoredValue stored_value(const DimensionValue& value) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (const double* rate = std::get_if<double>(&value)) return *rate;
  return static_cast<std::int64_t>(std::min(std::get<std::uint64_t>(value), kMax));
}

SqliteStore::SqliteStore(StoreOptions options)
    : options_(std::move(options)),
      db_(open_for_writing(options_)),
      insert_point_(db_, "INSERT OR REPLACE INTO points (ts, series_id, value) VALUES (?, ?, ?)"),
      find_series_(db_,
                   "SELECT id FROM series WHERE chart = ? AND dimension = ? AND queue_key IS ? "
                   "AND owner_uid IS ? ORDER BY id DESC LIMIT 1"),
      insert_series_(db_,
                     "INSERT INTO series (chart, dimension, queue_key, owner_uid) "
                     "VALUES (?, ?, ?, ?)"),
      reopen_series_(db_, "UPDATE series SET ended_ts = NULL WHERE id = ?"),
      end_series_(db_, "UPDATE series SET ended_ts = ? WHERE id = ?"),
      insert_chart_(db_,
                    "INSERT INTO charts (id, units) VALUES (?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET units = excluded.units"),
      insert_span_(db_,
                   "INSERT INTO sampling_spans (start_ts, last_ts, interval_ms) VALUES (?, ?, ?)"),
      extend_span_(db_, "UPDATE sampling_spans SET last_ts = ? WHERE id = ?"),
      insert_alert_transition_(db_,
                               "INSERT INTO alert_transitions (ts, alert, chart, instance, "
                               "old_status, new_status, old_value, new_value, warn, crit, summary) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
      objects_(db_),
      retention_(db_, options_.retention) {
  reload_state();
}

void SqliteStore::reload_state() {
  charts_.clear();
  span_id_.reset();
  SQLite::Statement charts(db_, "SELECT id FROM charts");
  while (charts.executeStep()) charts_[charts.getColumn(0).getString()];
  SQLite::Statement open(db_,
                         "SELECT id, chart, dimension, queue_key, owner_uid FROM series "
                         "WHERE ended_ts IS NULL ORDER BY id");
  while (open.executeStep()) {
    auto [entry, added] =
        charts_[open.getColumn(1).getString()].series.try_emplace(open.getColumn(2).getString());
    OpenSeries& series = entry->second;
    series.dimension = &entry->first;
    series.id = open.getColumn(0).getInt64();
    if (!open.getColumn(3).isNull()) series.labels.queue_key = open.getColumn(3).getInt64();
    if (!open.getColumn(4).isNull()) series.labels.owner_uid = open.getColumn(4).getInt64();
    series.refresh_after_ms = refresh_after_ms(series.id);
  }
  objects_.reload();
  state_stale_ = false;
}

void SqliteStore::write_tick(const TickRecord& tick) {
  if (state_stale_) reload_state();
  ++tick_number_;
  db_.exec("BEGIN IMMEDIATE");
  try {
    bool keyframe = false;
    write_span(tick, keyframe);
    for (const ChartRecord& record : tick.charts) write_chart(record, tick.ts_ms, keyframe);
    end_vanished_series(tick.ts_ms);
    for (const AlertTransition& transition : tick.alert_transitions) {
      write_alert_transition(transition);
    }
    objects_.write(tick.objects, tick.ts_ms);
    if (tick.leak_suspects) objects_.write_leak_suspects(*tick.leak_suspects, tick.ts_ms);
    retention_.step(tick.ts_ms);
    db_.exec("COMMIT");
    // Between ticks the page cache only holds memory: the next tick touches a handful of pages
    // at the end of the time-ordered tree, which the OS page cache serves. Dropping it keeps the
    // agent's resident size flat instead of growing to the cache bound.
    sqlite3_db_release_memory(db_.getHandle());
  } catch (...) {
    // SQLite may already have rolled back (SQLITE_FULL during commit does).
    if (sqlite3_get_autocommit(db_.getHandle()) == 0) {
      sqlite3_exec(db_.getHandle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
    // After a full disk, a checkpoint lets the next tick reuse the WAL instead of growing it.
    sqlite3_wal_checkpoint_v2(db_.getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                              nullptr);
    state_stale_ = true;
    reset_statements();
    throw;
  }
}

// A statement whose last step failed reports that error again from its next reset(): clear it
// now, so that the next tick does not fail for this one's fault.
void SqliteStore::reset_statements() noexcept {
  for (SQLite::Statement* statement :
       {&insert_point_, &find_series_, &insert_series_, &reopen_series_, &end_series_,
        &insert_chart_, &insert_span_, &extend_span_, &insert_alert_transition_}) {
    statement->tryReset();
  }
  objects_.reset_statements();
  retention_.reset_statements();
}

void SqliteStore::write_span(const TickRecord& tick, bool& starts_span) {
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

SqliteStore::ChartState& SqliteStore::chart_state(const Chart& chart) {
  auto found = charts_.find(std::string(chart.id));
  if (found != charts_.end()) return found->second;
  insert_chart_.reset();
  insert_chart_.bind(1, std::string(chart.id));
  insert_chart_.bind(2, std::string(chart.units));
  insert_chart_.exec();
  return charts_[std::string(chart.id)];
}

void SqliteStore::write_chart(const ChartRecord& record, std::int64_t ts_ms, bool keyframe) {
  static const SeriesLabels kNoLabels;
  const Chart& chart = record.chart;
  ChartState& state = chart_state(chart);
  if (state.seen_in_tick != tick_number_) {
    state.seen_in_tick = tick_number_;
    state.seen_count = 0;
  }
  state.next_order.clear();
  for (std::size_t i = 0; i < chart.dimensions.size(); ++i) {
    const Dimension& dimension = chart.dimensions[i];
    const SeriesLabels& labels = i < record.labels.size() ? record.labels[i] : kNoLabels;
    StoredValue value = stored_value(dimension.value);

    OpenSeries* series = nullptr;
    if (i < state.last_order.size() && *state.last_order[i]->dimension == dimension.name) {
      series = state.last_order[i];
    } else if (auto found = state.series.find(dimension.name); found != state.series.end()) {
      series = &found->second;
    }
    if (series == nullptr || series->labels != labels) {
      series = &open_series(state, series, chart, dimension, labels, ts_ms);
      write_point(*series, ts_ms, value);
    } else if (keyframe || series->value != value ||
               ts_ms - series->written_ts >= series->refresh_after_ms) {
      write_point(*series, ts_ms, value);
    }
    if (series->seen_in_tick != tick_number_) {
      series->seen_in_tick = tick_number_;
      ++state.seen_count;
    }
    state.next_order.push_back(series);
  }
  state.last_order.swap(state.next_order);
}

SqliteStore::OpenSeries& SqliteStore::open_series(ChartState& state, OpenSeries* found,
                                                  const Chart& chart, const Dimension& dimension,
                                                  const SeriesLabels& labels, std::int64_t ts_ms) {
  // The same msqid now names another queue (other key or owner): end the old queue's series.
  if (found != nullptr) end_series(found->id, ts_ms);
  OpenSeries& series = found != nullptr ? *found : [&]() -> OpenSeries& {
    auto entry = state.series.try_emplace(dimension.name).first;
    entry->second.dimension = &entry->first;
    return entry->second;
  }();
  series.id = series_id_for(chart.id, dimension.name, labels);
  series.labels = labels;
  series.value.reset();
  series.seen_in_tick = 0;
  series.refresh_after_ms = refresh_after_ms(series.id);
  return series;
}

std::int64_t SqliteStore::series_id_for(std::string_view chart, const std::string& dimension,
                                        const SeriesLabels& labels) {
  find_series_.reset();
  find_series_.bind(1, std::string(chart));
  find_series_.bind(2, dimension);
  bind_optional(find_series_, 3, labels.queue_key);
  bind_optional(find_series_, 4, labels.owner_uid);
  if (find_series_.executeStep()) {
    std::int64_t id = find_series_.getColumn(0).getInt64();
    find_series_.reset();
    reopen_series_.reset();
    reopen_series_.bind(1, id);
    reopen_series_.exec();
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

void SqliteStore::write_point(OpenSeries& series, std::int64_t ts_ms, const StoredValue& value) {
  insert_point(series.id, ts_ms, value);
  series.value = value;
  series.written_ts = ts_ms;
}

void SqliteStore::end_series(std::int64_t series_id, std::int64_t ts_ms) {
  insert_point(series_id, ts_ms, std::nullopt);
  end_series_.reset();
  end_series_.bind(1, ts_ms);
  end_series_.bind(2, series_id);
  end_series_.exec();
}

void SqliteStore::insert_point(std::int64_t series_id, std::int64_t ts_ms,
                               const std::optional<StoredValue>& value) {
  insert_point_.reset();
  insert_point_.bind(1, ts_ms);
  insert_point_.bind(2, series_id);
  if (!value) {
    insert_point_.bind(3);
  } else if (const double* rate = std::get_if<double>(&*value)) {
    insert_point_.bind(3, *rate);
  } else {
    insert_point_.bind(3, std::get<std::int64_t>(*value));
  }
  insert_point_.exec();
}

void SqliteStore::end_vanished_series(std::int64_t ts_ms) {
  for (auto& [id, state] : charts_) {
    bool chart_seen = state.seen_in_tick == tick_number_;
    if (chart_seen && state.seen_count == state.series.size()) continue;
    if (!chart_seen) state.last_order.clear();
    for (auto it = state.series.begin(); it != state.series.end();) {
      if (chart_seen && it->second.seen_in_tick == tick_number_) {
        ++it;
        continue;
      }
      end_series(it->second.id, ts_ms);
      it = state.series.erase(it);
    }
  }
}

void SqliteStore::write_alert_transition(const AlertTransition& transition) {
  SQLite::Statement& insert = insert_alert_transition_;
  insert.reset();
  insert.bind(1, transition.ts_ms);
  insert.bind(2, std::string(transition.alert));
  insert.bind(3, std::string(transition.chart));
  insert.bind(4, transition.instance);
  insert.bind(5, static_cast<int>(transition.old_status));
  insert.bind(6, static_cast<int>(transition.new_status));
  bind_optional(insert, 7, transition.old_value);
  bind_optional(insert, 8, transition.new_value);
  insert.bind(9, transition.warn);
  bind_optional(insert, 10, transition.crit);
  insert.bind(11, transition.summary);
  insert.exec();
}

}  // namespace ipctrail
