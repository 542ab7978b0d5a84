#include "storage/sqlite_store.h"

#include <SQLiteCpp/Transaction.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <limits>

#include "model/chart_table.h"
#include "storage/schema.h"

namespace ipctrail {

namespace {

// After WriterGuard: SQLite opens what the guard checked (NOFOLLOW: no link swapped in since),
// and the file is checked for damage and identity before anything is written to it.
SQLite::Database open_for_writing(const StoreOptions& options) {
  SQLite::Database db(options.path, SQLite::OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW,
                      static_cast<int>(options.busy_timeout.count()));
  // SQLite deletes the -wal and -shm files when the last connection closes, and a reader without
  // write access to the folder (a member of the file's group) cannot make them again: plain
  // `sqlite3 -readonly` would fail whenever the agent is stopped. Kept, they stay with the file's
  // mode (0640, which SQLite gives them) and a reader works whether the agent runs or not.
  int persist_wal = 1;
  sqlite3_file_control(db.getHandle(), "main", SQLITE_FCNTL_PERSIST_WAL, &persist_wal);
  if (sqlite3_db_readonly(db.getHandle(), "main") == 1) {
    throw HistoryFileError(fmt::format(
        "{} can only be opened read-only: make it writable by the agent, or set database.path "
        "(or --db) to another file",
        options.path.string()));
  }
  check_before_writing(db, options.path.string());
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
void bind_text_or_null(SQLite::Statement& statement, int index, const std::string& text) {
  if (text.empty()) {
    statement.bind(index);
  } else {
    statement.bind(index, text);
  }
}

std::int64_t refresh_after_ms(std::int64_t series_id) {
  auto phase = static_cast<std::int64_t>(static_cast<std::uint64_t>(series_id) *
                                         0x9E3779B97F4A7C15ULL % (kRefreshMs / 2));
  return kRefreshMs / 2 + phase;
}

// Binds a charts row: id, units, then the chart table's metadata (NULL for a chart it lacks).
void bind_chart(SQLite::Statement& statement, std::string_view id, std::string_view units,
                const ChartSpec* spec) {
  statement.bind(1, std::string(id));
  statement.bind(2, std::string(units));
  if (spec) {
    statement.bind(3, std::string(spec->title));
    statement.bind(4, std::string(spec->family));
    statement.bind(5, std::string(spec->context));
    statement.bind(6, std::string(chart_type_name(spec->type)));
    statement.bind(7, spec->priority);
  } else {
    for (int column = 3; column <= 7; ++column) statement.bind(column);
  }
}

// The chart table as this ipctrail states it: metadata for the charts the file already has (new
// ones get theirs when first written), and Netdata's names for our charts as aliases.
void write_chart_table(SQLite::Database& db) {
  SQLite::Transaction transaction(db);
  SQLite::Statement update(db,
                           "UPDATE charts SET title = ?3, family = ?4, context = ?5, "
                           "chart_type = ?6, priority = ?7 WHERE id = ?1");
  SQLite::Statement alias(db, "INSERT INTO chart_aliases (alias, chart) VALUES (?, ?)");
  db.exec("DELETE FROM chart_aliases");
  for (const ChartSpec* spec : kChartTable) {
    update.reset();
    bind_chart(update, spec->id, spec->units, spec);
    update.exec();
    if (spec->netdata_id.empty()) continue;
    alias.reset();
    alias.bind(1, std::string(spec->netdata_id));
    alias.bind(2, std::string(spec->id));
    alias.exec();
  }
  transaction.commit();
}

}  // namespace

StoredValue stored_value(const DimensionValue& value) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (const double* rate = std::get_if<double>(&value)) return *rate;
  return static_cast<std::int64_t>(std::min(std::get<std::uint64_t>(value), kMax));
}

SqliteStore::SqliteStore(StoreOptions options)
    : options_(std::move(options)),
      guard_(options_.path),
      db_(open_for_writing(options_)),
      insert_point_(db_, "INSERT OR REPLACE INTO points (ts, series_id, value) VALUES (?, ?, ?)"),
      find_series_(db_,
                   "SELECT id FROM series WHERE chart = ? AND dimension = ? AND queue_key IS ? "
                   "AND owner_uid IS ? AND namespace_id IS ? ORDER BY id DESC LIMIT 1"),
      insert_series_(db_,
                     "INSERT INTO series (chart, dimension, queue_key, owner_uid, namespace_id) "
                     "VALUES (?, ?, ?, ?, ?)"),
      reopen_series_(db_, "UPDATE series SET ended_ts = NULL WHERE id = ?"),
      end_series_(db_, "UPDATE series SET ended_ts = ? WHERE id = ?"),
      insert_chart_(
          db_,
          "INSERT INTO charts (id, units, title, family, context, chart_type, priority) "
          "VALUES (?, ?, ?, ?, ?, ?, ?) "
          "ON CONFLICT (id) DO UPDATE SET units = excluded.units, title = excluded.title, "
          "family = excluded.family, context = excluded.context, "
          "chart_type = excluded.chart_type, priority = excluded.priority"),
      insert_span_(db_,
                   "INSERT INTO sampling_spans (start_ts, last_ts, interval_ms) VALUES (?, ?, ?)"),
      extend_span_(db_, "UPDATE sampling_spans SET last_ts = ? WHERE id = ?"),
      insert_alert_transition_(db_,
                               "INSERT INTO alert_transitions (ts, alert, chart, instance, "
                               "old_status, new_status, old_value, new_value, warn, crit, summary, "
                               "namespace_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
      insert_namespace_(db_,
                        "INSERT INTO namespaces (inode, label, owner_kind, owner_name, container, "
                        "first_seen_ts, last_seen_ts) VALUES (?, ?, ?, ?, ?, ?, ?)"),
      // Every live row is in the tick (one that is not ends in it): one statement for them all.
      seen_namespaces_(db_,
                       "UPDATE namespaces SET last_seen_ts = ?1 WHERE ended_ts IS NULL AND "
                       "last_seen_ts < ?1"),
      end_namespace_(db_, "UPDATE namespaces SET ended_ts = ? WHERE id = ?"),
      objects_(db_),
      processes_(db_),
      retention_(db_, options_.retention) {
  write_chart_table(db_);
  reload_state();
}

void SqliteStore::reload_state() {
  charts_.clear();
  chart_ids_.clear();
  live_namespaces_.clear();
  namespace_objects_.clear();
  span_id_.reset();
  SQLite::Statement charts(db_, "SELECT id FROM charts");
  while (charts.executeStep()) chart_ids_.insert(charts.getColumn(0).getString());
  inherited_namespaces_.clear();
  SQLite::Statement namespaces(
      db_, "SELECT inode, id, last_seen_ts FROM namespaces WHERE ended_ts IS NULL");
  while (namespaces.executeStep()) {
    std::int64_t id = namespaces.getColumn(1).getInt64();
    live_namespaces_[static_cast<std::uint64_t>(namespaces.getColumn(0).getInt64())] = id;
    if (!namespaces_written_.contains(id)) {
      inherited_namespaces_[id] = namespaces.getColumn(2).getInt64();
    }
  }
  SQLite::Statement open(
      db_,
      "SELECT id, chart, dimension, queue_key, owner_uid, "
      "coalesce(namespace_id, 0) FROM series WHERE ended_ts IS NULL ORDER BY id");
  while (open.executeStep()) {
    auto [entry, added] =
        charts_[open.getColumn(5).getInt64()][open.getColumn(1).getString()].series.try_emplace(
            open.getColumn(2).getString());
    OpenSeries& series = entry->second;
    series.dimension = &entry->first;
    series.id = open.getColumn(0).getInt64();
    if (!open.getColumn(3).isNull()) series.labels.queue_key = open.getColumn(3).getInt64();
    if (!open.getColumn(4).isNull()) series.labels.owner_uid = open.getColumn(4).getInt64();
    series.refresh_after_ms = refresh_after_ms(series.id);
  }
  objects_.reload();
  processes_.reload();
  state_stale_ = false;
}

void SqliteStore::write_tick(const TickRecord& tick) {
  if (state_stale_) reload_state();
  ++tick_number_;
  db_.exec("BEGIN IMMEDIATE");
  try {
    bool starts_span = false;
    write_span(tick, starts_span);
    bool keyframe = starts_span || retention_.wants_keyframe();
    rows_in_tick_ = 0;
    for (const ChartRecord& record : tick.charts) write_chart(record, tick.ts_ms, keyframe, 0);
    write_namespaces(tick, keyframe);
    end_vanished_series(tick.ts_ms);
    for (const AlertTransition& transition : tick.alert_transitions) {
      write_alert_transition(transition);
    }
    objects_.write(tick.objects, tick.ts_ms);
    if (tick.leak_suspects) {
      objects_.write_leak_suspects(*tick.leak_suspects, tick.ts_ms);
    } else {
      objects_.clear_leak_suspects(tick.ts_ms);
    }
    rows_in_tick_ += processes_.write(tick.processes, tick.ts_ms, starts_span, objects_);
    // A chart that could not be read was not restated: retention must not rely on this tick.
    bool restated_all = keyframe && std::all_of(tick.charts.begin(), tick.charts.end(),
                                                [](const ChartRecord& c) { return c.collected; });
    retention_.step(tick.ts_ms, rows_in_tick_, restated_all);
    db_.exec("COMMIT");
    retention_.committed();
    // Between ticks the page cache only holds memory: the next tick touches a handful of pages
    // at the end of the time-ordered tree, which the OS page cache serves. Dropping it keeps the
    // agent's resident size flat instead of growing to the cache bound; the daemon hands the
    // freed pages back to the OS at the end of the tick (run_agent's malloc_trim).
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

void SqliteStore::keep_files_beside_on_close() noexcept {
  int persist = 1;
  sqlite3_file_control(db_.getHandle(), "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
}

// A statement whose last step failed reports that error again from its next reset(): clear it
// now, so that the next tick does not fail for this one's fault.
void SqliteStore::reset_statements() noexcept {
  for (SQLite::Statement* statement :
       {&insert_point_, &find_series_, &insert_series_, &reopen_series_, &end_series_,
        &insert_chart_, &insert_span_, &extend_span_, &insert_alert_transition_, &insert_namespace_,
        &seen_namespaces_, &end_namespace_}) {
    statement->tryReset();
  }
  objects_.reset_statements();
  for (auto& [id, objects] : namespace_objects_) objects.reset_statements();
  processes_.reset_statements();
  retention_.rolled_back();
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

SqliteStore::ChartState& SqliteStore::chart_state(const Chart& chart, std::int64_t namespace_id) {
  auto& charts = charts_[namespace_id];
  auto found = charts.find(chart.id);
  if (found != charts.end()) return found->second;
  if (chart_ids_.insert(std::string(chart.id)).second) {
    insert_chart_.reset();
    bind_chart(insert_chart_, chart.id, chart.units, find_chart(chart.id));
    insert_chart_.exec();
  }
  return charts[std::string(chart.id)];
}

void SqliteStore::write_namespaces(const TickRecord& tick, bool keyframe) {
  std::unordered_map<std::uint64_t, std::int64_t> live;
  for (const NamespaceTickRecord& record : tick.namespaces) {
    const NamespaceIdentity& identity = record.identity;
    auto found = live_namespaces_.find(identity.inode);
    std::int64_t id = 0;
    // New to the agent, but alive before an earlier agent last saw its inode: the same namespace.
    auto inherited = found == live_namespaces_.end() ? inherited_namespaces_.end()
                                                     : inherited_namespaces_.find(found->second);
    bool continues = inherited != inherited_namespaces_.end() && identity.oldest_process_start_ms &&
                     *identity.oldest_process_start_ms < inherited->second;
    if (inherited != inherited_namespaces_.end()) inherited_namespaces_.erase(inherited);
    if (found != live_namespaces_.end() && (!record.new_incarnation || continues)) {
      id = found->second;
    } else {
      // A reused inode is another namespace: the old row ends, its series with it (below).
      if (found != live_namespaces_.end()) end_namespace(found->second, tick.ts_ms);
      insert_namespace_.reset();
      insert_namespace_.bind(1, static_cast<std::int64_t>(identity.inode));
      insert_namespace_.bind(2, identity.label);
      insert_namespace_.bind(3, identity.owner_kind);
      bind_text_or_null(insert_namespace_, 4, identity.owner_name);
      bind_text_or_null(insert_namespace_, 5, identity.container);
      insert_namespace_.bind(6, tick.ts_ms);
      insert_namespace_.bind(7, tick.ts_ms);
      insert_namespace_.exec();
      id = db_.getLastInsertRowid();
    }
    namespaces_written_.insert(id);
    live[identity.inode] = id;
    if (!record.sampled) {
      for (auto& [chart, state] : charts_[id]) state.unknown_in_tick = tick_number_;
      continue;
    }
    for (const ChartRecord& chart : record.charts) write_chart(chart, tick.ts_ms, keyframe, id);
    ObjectStore& objects = objects_of(id);
    objects.write(record.objects, tick.ts_ms);
    if (record.leak_suspects) {
      objects.write_leak_suspects(*record.leak_suspects, tick.ts_ms);
    } else {
      objects.clear_leak_suspects(tick.ts_ms);
    }
  }
  // Gone since the last tick: the row ends, and end_vanished_series ends its series, as a removed
  // queue's. One that was not sampled this tick is in the tick, with its charts not collected.
  for (const auto& [inode, id] : live_namespaces_) {
    if (!live.contains(inode)) end_namespace(id, tick.ts_ms);
  }
  if (!live.empty()) {
    seen_namespaces_.reset();
    seen_namespaces_.bind(1, tick.ts_ms);
    seen_namespaces_.exec();
  }
  live_namespaces_ = std::move(live);
}

ObjectStore& SqliteStore::objects_of(std::int64_t namespace_id) {
  auto [entry, added] = namespace_objects_.try_emplace(namespace_id, db_, namespace_id);
  if (added) entry->second.reload();
  return entry->second;
}

void SqliteStore::end_namespace(std::int64_t namespace_id, std::int64_t ts_ms) {
  // Its objects went with it: every kind read, none left.
  IpcInventory none{std::vector<IpcObject>{}, std::vector<IpcObject>{}, std::vector<IpcObject>{}};
  objects_of(namespace_id).write(none, ts_ms);
  namespace_objects_.erase(namespace_id);
  end_namespace_.reset();
  end_namespace_.bind(1, ts_ms);
  end_namespace_.bind(2, namespace_id);
  end_namespace_.exec();
}

void SqliteStore::write_chart(const ChartRecord& record, std::int64_t ts_ms, bool keyframe,
                              std::int64_t namespace_id) {
  static const SeriesLabels kNoLabels;
  const Chart& chart = record.chart;
  ChartState& state = chart_state(chart, namespace_id);
  if (!record.collected) {
    // Unknown is not empty: the series stay open with their last values.
    state.unknown_in_tick = tick_number_;
    return;
  }
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
      series = &open_series(state, series, chart, dimension, labels, namespace_id, ts_ms);
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
                                                  const SeriesLabels& labels,
                                                  std::int64_t namespace_id, std::int64_t ts_ms) {
  // The same msqid now names another queue (other key or owner): end the old queue's series.
  if (found != nullptr) end_series(found->id, ts_ms);
  OpenSeries& series = found != nullptr ? *found : [&]() -> OpenSeries& {
    auto entry = state.series.try_emplace(dimension.name).first;
    entry->second.dimension = &entry->first;
    return entry->second;
  }();
  series.id = series_id_for(chart.id, dimension.name, labels, namespace_id);
  series.labels = labels;
  series.value.reset();
  series.seen_in_tick = 0;
  series.refresh_after_ms = refresh_after_ms(series.id);
  return series;
}

std::int64_t SqliteStore::series_id_for(std::string_view chart, const std::string& dimension,
                                        const SeriesLabels& labels, std::int64_t namespace_id) {
  std::optional<std::int64_t> namespace_column;
  if (namespace_id != 0) namespace_column = namespace_id;
  find_series_.reset();
  find_series_.bind(1, std::string(chart));
  find_series_.bind(2, dimension);
  bind_optional(find_series_, 3, labels.queue_key);
  bind_optional(find_series_, 4, labels.owner_uid);
  bind_optional(find_series_, 5, namespace_column);
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
  bind_optional(insert_series_, 5, namespace_column);
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
  ++rows_in_tick_;
}

void SqliteStore::end_vanished_series(std::int64_t ts_ms) {
  std::unordered_set<std::int64_t> live_rows;
  for (const auto& [inode, id] : live_namespaces_) live_rows.insert(id);
  for (auto namespace_charts = charts_.begin(); namespace_charts != charts_.end();) {
    for (auto& [id, state] : namespace_charts->second) {
      if (state.unknown_in_tick == tick_number_) continue;
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
    // A namespace that ended has nothing open any more: its charts go with it.
    bool ended = namespace_charts->first != 0 && !live_rows.contains(namespace_charts->first);
    namespace_charts = ended ? charts_.erase(namespace_charts) : std::next(namespace_charts);
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
  auto in_namespace = live_namespaces_.find(transition.namespace_inode);
  if (transition.namespace_inode != 0 && in_namespace != live_namespaces_.end()) {
    insert.bind(12, in_namespace->second);
  } else {
    insert.bind(12);  // the agent's own namespace
  }
  insert.exec();
}

}  // namespace ipctrail
