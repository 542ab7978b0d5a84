#include "storage/history_reader.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <unordered_map>

#include "storage/schema.h"

namespace ipctrail {

namespace {

SQLite::Database open_for_reading(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    throw HistoryFileError(fmt::format("{}: no such history file", path.string()));
  }
  try {
    SQLite::Database db(path, SQLite::OPEN_READONLY, 1000);
    require_current_schema(db, path.string());
    return db;
  } catch (const SQLite::Exception& sqlite_error) {
    throw HistoryFileError(fmt::format("{}: cannot read: {}", path.string(), sqlite_error.what()));
  }
}

SeriesInfo series_from_row(SQLite::Statement& row) {
  SeriesInfo series;
  series.id = row.getColumn(0).getInt64();
  series.chart = row.getColumn(1).getString();
  series.dimension = row.getColumn(2).getString();
  if (!row.getColumn(3).isNull()) series.labels.queue_key = row.getColumn(3).getInt64();
  if (!row.getColumn(4).isNull()) series.labels.owner_uid = row.getColumn(4).getInt64();
  return series;
}

Point point_from_columns(const SQLite::Column& ts, const SQLite::Column& value) {
  Point point{ts.getInt64(), std::nullopt};
  if (value.isFloat()) {
    point.value = value.getDouble();
  } else if (!value.isNull()) {
    point.value = value.getInt64();
  }
  return point;
}

// The process in columns first (tgid), first + 1 (comm), first + 2 (unit); none when tgid is NULL.
std::optional<ProcessRef> process_ref(SQLite::Statement& row, int first) {
  if (row.getColumn(first).isNull()) return std::nullopt;
  ProcessRef process{row.getColumn(first).getInt(), row.getColumn(first + 1).getString(), {}};
  if (!row.getColumn(first + 2).isNull()) process.unit = row.getColumn(first + 2).getString();
  return process;
}

std::optional<double> optional_double(const SQLite::Column& column) {
  if (column.isNull()) return std::nullopt;
  return column.getDouble();
}

constexpr const char* kAlertColumns =
    "SELECT ts, alert, chart, instance, old_status, new_status, old_value, new_value, warn, crit, "
    "summary FROM alert_transitions ";

std::vector<AlertRecord> alert_records(SQLite::Statement& query) {
  std::vector<AlertRecord> records;
  while (query.executeStep()) {
    AlertRecord& record = records.emplace_back();
    record.ts_ms = query.getColumn(0).getInt64();
    record.alert = query.getColumn(1).getString();
    record.chart = query.getColumn(2).getString();
    record.instance = query.getColumn(3).getString();
    record.old_status = static_cast<AlertStatus>(query.getColumn(4).getInt());
    record.new_status = static_cast<AlertStatus>(query.getColumn(5).getInt());
    record.old_value = optional_double(query.getColumn(6));
    record.new_value = optional_double(query.getColumn(7));
    record.warn = optional_double(query.getColumn(8));
    record.crit = optional_double(query.getColumn(9));
    record.summary = query.getColumn(10).getString();
  }
  return records;
}

// A span's ticks on its grid: tick k at start + k x interval, k < count.
struct TickGrid {
  std::int64_t start_ms = 0;
  std::int64_t interval_ms = 1;
  std::int64_t count = 0;

  explicit TickGrid(const Span& span)
      : start_ms(span.start_ms),
        interval_ms(std::max<std::int64_t>(span.interval_ms, 1)),
        count(index_of_tick(span.last_ms) + 1) {}

  // The grid index of a tick that happened at ts_ms (a little off the grid: its clock drifts).
  std::int64_t index_of_tick(std::int64_t ts_ms) const {
    if (ts_ms <= start_ms) return 0;
    return (ts_ms - start_ms + interval_ms / 2) / interval_ms;
  }
  // How many ticks of the grid fall before ts_ms.
  std::int64_t ticks_before(std::int64_t ts_ms) const {
    if (ts_ms <= start_ms) return 0;
    return std::min(count, (ts_ms - start_ms + interval_ms - 1) / interval_ms);
  }
  std::int64_t time_of(std::int64_t tick) const { return start_ms + tick * interval_ms; }
};

// Queue dimensions are msqids: order them as numbers.
constexpr const char* kSeriesOrder = "ORDER BY s.chart, length(s.dimension), s.dimension, s.id";

// The ids of the namespaces rows `choice` names (a label, an inode, or ipc:[inode]: every
// incarnation of it); throws std::invalid_argument when none does.
std::string namespace_rows(SQLite::Database& db, const std::string& choice) {
  SQLite::Statement query(db,
                          "SELECT id FROM namespaces WHERE label = ?1 OR CAST(inode AS TEXT) = ?1 "
                          "OR 'ipc:[' || inode || ']' = ?1 ORDER BY id");
  query.bind(1, choice);
  std::vector<std::int64_t> ids;
  while (query.executeStep()) ids.push_back(query.getColumn(0).getInt64());
  if (ids.empty()) {
    throw std::invalid_argument(fmt::format(
        "the history has no IPC namespace called {} (its namespaces table lists them)", choice));
  }
  return fmt::format("{}", fmt::join(ids, ", "));
}

// Every reader query reads series, ipc_objects and alert_transitions; temporary views of the same
// names, which SQLite finds before the file's tables, show it the chosen namespace's rows only, so
// no query repeats the filter. The temp schema is the connection's own: the file stays read-only.
SQLite::Database open_for_namespace(const std::filesystem::path& path, const std::string& choice) {
  SQLite::Database db = open_for_reading(path);
  if (choice == kAllNamespaces) return db;
  std::string rows = choice == kHostNamespace
                         ? "namespace_id IS NULL"
                         : "namespace_id IN (" + namespace_rows(db, choice) + ")";
  for (const char* table : {"series", "ipc_objects", "alert_transitions"}) {
    db.exec(fmt::format("CREATE TEMP VIEW {0} AS SELECT * FROM main.{0} WHERE {1}", table, rows));
  }
  return db;
}

}  // namespace

struct HistoryReader::Connection {
  Connection(const std::filesystem::path& path, const std::string& namespace_choice)
      : db(open_for_namespace(path, namespace_choice)),
        // Every series with a value has a row within kRefreshMs before any time: scanning that
        // window (time is the points table's key) finds the value in effect.
        chart_points(db, fmt::format("SELECT p.series_id, p.ts, p.value FROM points p "
                                     "WHERE p.ts > ?1 - {} AND p.ts <= ?2 AND p.series_id IN "
                                     "(SELECT id FROM series WHERE chart = ?3 AND "
                                     "(?4 IS NULL OR dimension = ?4)) ORDER BY p.ts",
                                     kRefreshMs)) {}

  SQLite::Database db;
  SQLite::Statement chart_points;
};

HistoryReader::HistoryReader(const std::filesystem::path& path, const std::string& namespace_choice)
    : connection_(std::make_unique<Connection>(path, namespace_choice)) {}

HistoryReader::~HistoryReader() = default;

std::vector<ChartInfo> HistoryReader::charts() {
  std::vector<ChartInfo> charts;
  SQLite::Statement query(connection_->db, "SELECT id, units FROM charts ORDER BY id");
  while (query.executeStep()) {
    charts.push_back({query.getColumn(0).getString(), query.getColumn(1).getString()});
  }
  return charts;
}

std::vector<SeriesInfo> HistoryReader::series(const std::string& chart,
                                              const std::optional<std::string>& dimension) {
  SQLite::Statement query(connection_->db,
                          std::string("SELECT s.id, s.chart, s.dimension, s.queue_key, "
                                      "s.owner_uid FROM series s WHERE s.chart = ?1 "
                                      "AND (?2 IS NULL OR s.dimension = ?2) ") +
                              kSeriesOrder);
  query.bind(1, chart);
  if (dimension) query.bind(2, *dimension);
  std::vector<SeriesInfo> found;
  while (query.executeStep()) found.push_back(series_from_row(query));
  return found;
}

std::vector<Span> HistoryReader::spans_between(std::int64_t since_ms, std::int64_t until_ms) {
  SQLite::Statement query(connection_->db,
                          "SELECT start_ts, last_ts, interval_ms FROM sampling_spans "
                          "WHERE last_ts + interval_ms >= ? AND start_ts <= ? ORDER BY start_ts");
  query.bind(1, since_ms);
  query.bind(2, until_ms);
  std::vector<Span> spans;
  while (query.executeStep()) {
    spans.push_back({query.getColumn(0).getInt64(), query.getColumn(1).getInt64(),
                     query.getColumn(2).getInt64()});
  }
  return spans;
}

std::vector<SeriesPoints> HistoryReader::changes(const std::string& chart,
                                                 const std::optional<std::string>& dimension,
                                                 std::int64_t since_ms, std::int64_t until_ms) {
  std::vector<SeriesPoints> result;
  std::unordered_map<std::int64_t, std::size_t> index_of;
  for (SeriesInfo& series : series(chart, dimension)) {
    index_of.emplace(series.id, result.size());
    result.push_back({std::move(series), {}});
  }
  connection_->chart_points.reset();
  connection_->chart_points.bind(1, since_ms);
  connection_->chart_points.bind(2, until_ms);
  connection_->chart_points.bind(3, chart);
  if (dimension) {
    connection_->chart_points.bind(4, *dimension);
  } else {
    connection_->chart_points.bind(4);
  }
  while (connection_->chart_points.executeStep()) {
    auto found = index_of.find(connection_->chart_points.getColumn(0).getInt64());
    if (found == index_of.end()) continue;
    std::vector<Point>& points = result[found->second].points;
    Point point = point_from_columns(connection_->chart_points.getColumn(1),
                                     connection_->chart_points.getColumn(2));
    // Before `since` only the latest row counts: the value in effect at `since`.
    if (point.ts_ms <= since_ms && !points.empty()) points.pop_back();
    points.push_back(point);
  }
  std::erase_if(result, [](const SeriesPoints& rows) { return rows.points.empty(); });
  return result;
}

std::vector<SeriesPoints> HistoryReader::grid(const std::string& chart,
                                              const std::optional<std::string>& dimension,
                                              std::int64_t since_ms, std::int64_t until_ms,
                                              std::int64_t step_ms) {
  std::vector<Span> spans = spans_between(since_ms, until_ms);
  auto sampled = [&spans](std::int64_t ts_ms) {
    return std::any_of(spans.begin(), spans.end(),
                       [ts_ms](const Span& span) { return span.covers(ts_ms); });
  };
  std::vector<SeriesPoints> result;
  for (SeriesPoints& rows : changes(chart, dimension, since_ms, until_ms)) {
    SeriesPoints cells{std::move(rows.series), {}};
    std::size_t next = 0;
    std::optional<StoredValue> value;
    for (std::int64_t ts_ms = since_ms; ts_ms <= until_ms; ts_ms += step_ms) {
      while (next < rows.points.size() && rows.points[next].ts_ms <= ts_ms) {
        value = rows.points[next++].value;
      }
      cells.points.push_back({ts_ms, sampled(ts_ms) ? value : std::nullopt});
    }
    result.push_back(std::move(cells));
  }
  return result;
}

std::vector<SeriesSums> HistoryReader::step_sums(const std::string& chart,
                                                 const std::optional<std::string>& dimension,
                                                 std::int64_t since_ms, std::int64_t until_ms,
                                                 std::int64_t step_ms) {
  std::int64_t steps = (until_ms - since_ms) / step_ms + 1;
  std::int64_t end_ms = since_ms + steps * step_ms;  // the last step ends here
  std::vector<Span> spans = spans_between(since_ms, end_ms - 1);
  std::vector<SeriesSums> result;
  for (SeriesPoints& rows : changes(chart, dimension, since_ms, end_ms - 1)) {
    SeriesSums sums{std::move(rows.series), {}};
    sums.steps.resize(static_cast<std::size_t>(steps));
    for (std::int64_t step = 0; step < steps; ++step) {
      sums.steps[static_cast<std::size_t>(step)].ts_ms = since_ms + step * step_ms;
    }
    for (const Span& span : spans) {
      TickGrid grid(span);
      for (std::size_t row = 0; row < rows.points.size(); ++row) {
        const std::optional<StoredValue>& value = rows.points[row].value;
        if (!value) continue;
        // The row holds for ticks [first, last) of this span, within [since, end).
        std::int64_t first =
            std::max(grid.index_of_tick(rows.points[row].ts_ms), grid.ticks_before(since_ms));
        std::int64_t last = grid.ticks_before(end_ms);
        if (row + 1 < rows.points.size()) {
          last = std::min(last, grid.index_of_tick(rows.points[row + 1].ts_ms));
        }
        const auto* integer = std::get_if<std::int64_t>(&*value);
        std::int64_t count = integer ? *integer : std::llround(std::get<double>(*value));
        while (first < last) {
          std::int64_t step = (grid.time_of(first) - since_ms) / step_ms;
          std::int64_t step_last =
              std::min(last, grid.ticks_before(since_ms + (step + 1) * step_ms));
          StepSum& cell = sums.steps[static_cast<std::size_t>(step)];
          cell.sum = cell.sum.value_or(0) + count * (step_last - first);
          cell.sampled_ms += (step_last - first) * grid.interval_ms;
          first = step_last;
        }
      }
    }
    result.push_back(std::move(sums));
  }
  return result;
}

Snapshot HistoryReader::snapshot_at(std::int64_t ts_ms) {
  Snapshot snapshot;
  snapshot.ts_ms = ts_ms;
  SQLite::Statement spans(connection_->db,
                          "SELECT start_ts, last_ts, interval_ms FROM sampling_spans "
                          "WHERE start_ts <= ? ORDER BY start_ts DESC LIMIT 2");
  spans.bind(1, ts_ms);
  while (spans.executeStep()) {
    Span span{spans.getColumn(0).getInt64(), spans.getColumn(1).getInt64(),
              spans.getColumn(2).getInt64()};
    if (span.covers(ts_ms) && !snapshot.span) {
      snapshot.span = span;
    } else if (!snapshot.previous_span) {
      snapshot.previous_span = span;
    }
  }
  snapshot.charts = charts();
  // SQLite takes a bare column (value) from the row where max(ts) was found.
  SQLite::Statement values(
      connection_->db,
      fmt::format("WITH latest AS (SELECT series_id, max(ts) AS ts, value FROM points "
                  "WHERE ts > ?1 - {} AND ts <= ?1 GROUP BY series_id) "
                  "SELECT s.id, s.chart, s.dimension, s.queue_key, s.owner_uid, latest.ts, "
                  "latest.value FROM latest JOIN series s ON s.id = latest.series_id "
                  "WHERE latest.value IS NOT NULL {}",
                  kRefreshMs, kSeriesOrder));
  values.bind(1, ts_ms);
  while (values.executeStep()) {
    SeriesInfo series = series_from_row(values);
    snapshot.values.push_back(
        {std::move(series), point_from_columns(values.getColumn(5), values.getColumn(6))});
  }
  snapshot.alerts = alert_states_at(ts_ms);
  return snapshot;
}

std::vector<AlertRecord> HistoryReader::alert_transitions(std::int64_t since_ms,
                                                          std::int64_t until_ms) {
  SQLite::Statement query(connection_->db,
                          std::string(kAlertColumns) + "WHERE ts >= ? AND ts <= ? ORDER BY ts, id");
  query.bind(1, since_ms);
  query.bind(2, until_ms);
  return alert_records(query);
}

std::vector<AlertRecord> HistoryReader::alert_states_at(std::int64_t ts_ms) {
  // Rows are written in tick order, so the highest id is the latest transition.
  SQLite::Statement query(
      connection_->db,
      fmt::format("{} WHERE id IN (SELECT max(id) FROM alert_transitions WHERE ts <= ? "
                  "GROUP BY alert, instance) AND new_status != {} "
                  "ORDER BY alert, length(instance), instance",
                  kAlertColumns, static_cast<int>(AlertStatus::kRemoved)));
  query.bind(1, ts_ms);
  return alert_records(query);
}

}  // namespace ipctrail

namespace ipctrail {

namespace {

// The creator and remover of the objects that existed at ts_ms, by incarnation.
void add_creators_and_removers(SQLite::Database& db, std::int64_t ts_ms,
                               std::vector<StoredObject>& objects) {
  SQLite::Statement query(
      db,
      "SELECT o.id, 0, p.tgid, p.comm, p.unit FROM ipc_objects o JOIN processes p ON p.id = "
      "o.creator_process_id WHERE o.first_seen_ts <= ?1 AND (o.removed_ts IS NULL OR o.removed_ts "
      "> ?1) UNION ALL SELECT o.id, 1, p.tgid, p.comm, p.unit FROM ipc_objects o JOIN processes "
      "p ON p.id = o.remover_process_id WHERE o.first_seen_ts <= ?1 AND (o.removed_ts IS NULL OR "
      "o.removed_ts > ?1)");
  query.bind(1, ts_ms);
  std::unordered_map<std::int64_t, StoredObject*> by_incarnation;
  for (StoredObject& stored : objects) by_incarnation.emplace(stored.incarnation, &stored);
  while (query.executeStep()) {
    auto found = by_incarnation.find(query.getColumn(0).getInt64());
    if (found == by_incarnation.end()) continue;
    (query.getColumn(1).getInt() == 0 ? found->second->creator : found->second->remover) =
        process_ref(query, 2);
  }
}

}  // namespace

std::vector<StoredObject> HistoryReader::objects_at(std::int64_t ts_ms) {
  SQLite::Statement query(
      connection_->db,
      "SELECT o.id, o.kind, o.ipc_id, o.key, o.cuid, o.cgid, o.size, o.cpid, o.created_ts, "
      "o.first_seen_ts, o.last_seen_ts, o.removed_ts, s.uid, s.gid, s.mode, s.nattch, s.lpid, "
      "s.lspid, s.lrpid, s.qnum, s.cbytes, s.otime, s.stime, s.rtime, s.atime, s.dtime, "
      "(SELECT CASE e.event WHEN 'leak_suspected' THEN e.details END FROM ipc_object_events e "
      "WHERE e.object_id = o.id AND e.ts <= ?1 AND e.event IN ('leak_suspected', 'leak_cleared') "
      "ORDER BY e.ts DESC LIMIT 1), s.qbytes "
      "FROM ipc_objects o JOIN ipc_object_states s ON s.object_id = o.id AND s.ts = (SELECT "
      "max(ts) FROM ipc_object_states WHERE object_id = o.id AND ts <= ?1) "
      "WHERE o.first_seen_ts <= ?1 AND (o.removed_ts IS NULL OR o.removed_ts > ?1) "
      "ORDER BY o.kind DESC, o.ipc_id");
  query.bind(1, ts_ms);
  std::vector<StoredObject> objects;
  auto integer = [&](int column) { return query.getColumn(column).getInt64(); };
  auto optional = [&](int column) -> std::optional<std::int64_t> {
    if (query.getColumn(column).isNull()) return std::nullopt;
    return query.getColumn(column).getInt64();
  };
  while (query.executeStep()) {
    std::optional<IpcKind> kind = kind_from_name(query.getColumn(1).getString());
    if (!kind) continue;
    StoredObject& stored = objects.emplace_back();
    stored.incarnation = integer(0);
    IpcObject& object = stored.object;
    object.kind = *kind;
    object.id = static_cast<int>(integer(2));
    object.key = static_cast<std::int32_t>(integer(3));
    object.cuid = static_cast<std::uint32_t>(integer(4));
    object.cgid = static_cast<std::uint32_t>(integer(5));
    object.size = static_cast<std::uint64_t>(integer(6));
    object.cpid = integer(7);
    stored.created_ms = integer(8);
    object.ctime = stored.created_ms / 1000;
    stored.first_seen_ms = integer(9);
    stored.last_seen_ms = optional(10);
    stored.removed_ms = optional(11);
    object.uid = static_cast<std::uint32_t>(integer(12));
    object.gid = static_cast<std::uint32_t>(integer(13));
    object.mode = static_cast<std::uint32_t>(integer(14));
    object.nattch = static_cast<std::uint64_t>(integer(15));
    object.lpid = integer(16);
    object.lspid = integer(17);
    object.lrpid = integer(18);
    object.qnum = static_cast<std::uint64_t>(integer(19));
    object.cbytes = static_cast<std::uint64_t>(integer(20));
    object.otime = integer(21);
    object.stime = integer(22);
    object.rtime = integer(23);
    object.atime = integer(24);
    object.dtime = integer(25);
    if (!query.getColumn(26).isNull()) stored.leak_reason = query.getColumn(26).getString();
    if (std::optional<std::int64_t> qbytes = optional(27)) {
      object.qbytes = static_cast<std::uint64_t>(*qbytes);
    }
  }
  add_creators_and_removers(connection_->db, ts_ms, objects);
  return objects;
}

std::vector<ObjectEvent> HistoryReader::object_events(std::int64_t since_ms,
                                                      std::int64_t until_ms) {
  SQLite::Statement query(connection_->db,
                          "SELECT ts, kind, id, coalesce(key, 0), event, details, "
                          "coalesce(incarnation, 0), pid, comm, unit FROM object_events "
                          "WHERE ts >= ?1 AND ts <= ?2 ORDER BY ts, incarnation, event");
  query.bind(1, since_ms);
  query.bind(2, until_ms);
  std::vector<ObjectEvent> events;
  while (query.executeStep()) {
    std::optional<IpcKind> kind = kind_from_name(query.getColumn(1).getString());
    if (!kind) continue;
    events.push_back({.ts_ms = query.getColumn(0).getInt64(),
                      .kind = *kind,
                      .id = query.getColumn(2).getInt(),
                      .key = query.getColumn(3).getInt(),
                      .event = query.getColumn(4).getString(),
                      .details = query.getColumn(5).getString(),
                      .incarnation = query.getColumn(6).getInt64(),
                      .process = process_ref(query, 7)});
  }
  return events;
}

std::vector<ProcessCallTotal> HistoryReader::process_call_totals(
    std::int64_t since_ms, std::int64_t until_ms, const std::optional<std::string>& call,
    bool errors_only) {
  SQLite::Statement query(
      connection_->db,
      "SELECT p.comm, p.unit, n.name, e.name, sum(c.count) AS total, min(c.ts), max(c.ts), "
      "group_concat(DISTINCT p.tgid) FROM process_call_counts c "
      "JOIN processes p ON p.id = c.process_id JOIN ipc_call_names n ON n.code = c.call "
      "LEFT JOIN errno_classes e ON e.code = c.errno "
      "WHERE c.ts >= ?1 AND c.ts <= ?2 AND (?3 IS NULL OR n.name = ?3) AND (?4 = 0 OR c.errno != "
      "0) "
      "GROUP BY p.comm, p.unit, c.call, c.errno ORDER BY total DESC, p.comm, p.unit, c.call, "
      "c.errno");
  query.bind(1, since_ms);
  query.bind(2, until_ms);
  if (call) {
    query.bind(3, *call);
  } else {
    query.bind(3);
  }
  query.bind(4, errors_only ? 1 : 0);
  std::vector<ProcessCallTotal> totals;
  while (query.executeStep()) {
    ProcessCallTotal& total = totals.emplace_back();
    total.comm = query.getColumn(0).getString();
    if (!query.getColumn(1).isNull()) total.unit = query.getColumn(1).getString();
    total.call = query.getColumn(2).getString();
    if (!query.getColumn(3).isNull()) total.error = query.getColumn(3).getString();
    total.count = query.getColumn(4).getInt64();
    total.first_ms = query.getColumn(5).getInt64();
    total.last_ms = query.getColumn(6).getInt64();
    std::string pids = query.getColumn(7).getString();
    for (std::size_t at = 0; at < pids.size();) {
      std::size_t comma = pids.find(',', at);
      if (comma == std::string::npos) comma = pids.size();
      total.pids.push_back(std::stoi(pids.substr(at, comma - at)));
      at = comma + 1;
    }
    std::sort(total.pids.begin(), total.pids.end());
  }
  return totals;
}

ProcessCoverage HistoryReader::process_coverage(std::int64_t since_ms, std::int64_t until_ms) {
  ProcessCoverage coverage;
  coverage.sampling = spans_between(since_ms, until_ms);
  SQLite::Statement spans(connection_->db,
                          "SELECT start_ts, last_ts FROM process_spans WHERE last_ts >= ?1 AND "
                          "start_ts <= ?2 ORDER BY start_ts");
  spans.bind(1, since_ms);
  spans.bind(2, until_ms);
  while (spans.executeStep()) {
    coverage.counted.emplace_back(spans.getColumn(0).getInt64(), spans.getColumn(1).getInt64());
  }
  SQLite::Statement losses(connection_->db,
                           "SELECT coalesce(sum(calls_not_attributed), 0), "
                           "coalesce(sum(events_lost), 0) FROM process_losses "
                           "WHERE ts >= ?1 AND ts <= ?2");
  losses.bind(1, since_ms);
  losses.bind(2, until_ms);
  if (losses.executeStep()) {
    coverage.calls_not_attributed = losses.getColumn(0).getInt64();
    coverage.events_lost = losses.getColumn(1).getInt64();
  }
  return coverage;
}

}  // namespace ipctrail

// --- For `ipctrail report`. ---
namespace ipctrail {

std::vector<SeriesCountRuns> count_runs(const std::vector<SeriesPoints>& changes,
                                        const std::vector<Span>& spans, std::int64_t since_ms,
                                        std::int64_t until_ms) {
  std::vector<SeriesCountRuns> result;
  for (const SeriesPoints& rows : changes) {
    SeriesCountRuns found{rows.series, {}};
    for (const Span& span : spans) {
      TickGrid grid(span);
      for (std::size_t row = 0; row < rows.points.size(); ++row) {
        const std::optional<StoredValue>& value = rows.points[row].value;
        if (!value) continue;
        const auto* integer = std::get_if<std::int64_t>(&*value);
        std::int64_t count = integer ? *integer : std::llround(std::get<double>(*value));
        if (count <= 0) continue;
        // The row holds for ticks [first, last) of this span, within [since, until].
        std::int64_t first =
            std::max(grid.index_of_tick(rows.points[row].ts_ms), grid.ticks_before(since_ms));
        std::int64_t last = grid.ticks_before(until_ms + 1);
        if (row + 1 < rows.points.size()) {
          last = std::min(last, grid.index_of_tick(rows.points[row + 1].ts_ms));
        }
        if (first >= last) continue;
        // The row's own tick keeps its real time; later ticks of the run are placed on the grid.
        std::int64_t first_ms = first == grid.index_of_tick(rows.points[row].ts_ms)
                                    ? rows.points[row].ts_ms
                                    : grid.time_of(first);
        found.runs.push_back(
            {first_ms, std::max(first_ms, grid.time_of(last - 1)), count, last - first});
      }
    }
    std::sort(found.runs.begin(), found.runs.end(), [](const CountRun& a, const CountRun& b) {
      return a.first_tick_ms < b.first_tick_ms;
    });
    if (!found.runs.empty()) result.push_back(std::move(found));
  }
  return result;
}

std::map<std::string, std::vector<SeriesPoints>> HistoryReader::changes_of_charts(
    const std::vector<std::string>& charts, std::int64_t since_ms, std::int64_t until_ms) {
  std::map<std::string, std::vector<SeriesPoints>> result;
  // Where each series' rows go: its chart's list, at its index.
  std::unordered_map<std::int64_t, std::pair<std::vector<SeriesPoints>*, std::size_t>> place_of;
  SQLite::Statement all_series(connection_->db,
                               std::string("SELECT s.id, s.chart, s.dimension, s.queue_key, "
                                           "s.owner_uid FROM series s ") +
                                   kSeriesOrder);
  while (all_series.executeStep()) {
    SeriesInfo series = series_from_row(all_series);
    if (!charts.empty() && std::find(charts.begin(), charts.end(), series.chart) == charts.end()) {
      continue;
    }
    std::vector<SeriesPoints>& of_chart = result[series.chart];
    place_of.emplace(series.id, std::make_pair(&of_chart, of_chart.size()));
    of_chart.push_back({std::move(series), {}});
  }
  // Every series with a value has a row within kRefreshMs before any time (see chart_points).
  SQLite::Statement rows(connection_->db,
                         fmt::format("SELECT series_id, ts, value FROM points WHERE ts > ?1 - {} "
                                     "AND ts <= ?2 ORDER BY ts",
                                     kRefreshMs));
  rows.bind(1, since_ms);
  rows.bind(2, until_ms);
  while (rows.executeStep()) {
    auto found = place_of.find(rows.getColumn(0).getInt64());
    if (found == place_of.end()) continue;
    std::vector<Point>& points = (*found->second.first)[found->second.second].points;
    Point point = point_from_columns(rows.getColumn(1), rows.getColumn(2));
    // Before `since` only the latest row counts: the value in effect at `since`.
    if (point.ts_ms <= since_ms && !points.empty()) points.pop_back();
    points.push_back(point);
  }
  for (auto& [chart, of_chart] : result) {
    std::erase_if(of_chart, [](const SeriesPoints& series) { return series.points.empty(); });
  }
  return result;
}

}  // namespace ipctrail
