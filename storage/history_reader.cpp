#include "storage/history_reader.h"

#include <fmt/format.h>

#include <algorithm>

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
  if (!value.isNull()) point.value = value.getInt64();
  return point;
}

// Queue dimensions are msqids: order them as numbers.
constexpr const char* kSeriesOrder = "ORDER BY s.chart, length(s.dimension), s.dimension, s.id";

}  // namespace

HistoryReader::HistoryReader(const std::filesystem::path& path)
    : db_(open_for_reading(path)),
      point_at_(db_,
                "SELECT ts, value FROM points WHERE series_id = ? AND ts <= ? "
                "ORDER BY ts DESC LIMIT 1"),
      points_between_(db_,
                      "SELECT ts, value FROM points WHERE series_id = ? AND ts > ? AND ts <= ? "
                      "ORDER BY ts") {}

std::vector<ChartInfo> HistoryReader::charts() {
  std::vector<ChartInfo> charts;
  SQLite::Statement query(db_, "SELECT id, units FROM charts ORDER BY id");
  while (query.executeStep()) {
    charts.push_back({query.getColumn(0).getString(), query.getColumn(1).getString()});
  }
  return charts;
}

std::vector<SeriesInfo> HistoryReader::series(const std::string& chart,
                                              const std::optional<std::string>& dimension) {
  SQLite::Statement query(db_, std::string("SELECT s.id, s.chart, s.dimension, s.queue_key, "
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
  SQLite::Statement query(db_,
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

std::optional<Point> HistoryReader::point_at(std::int64_t series_id, std::int64_t ts_ms) {
  point_at_.reset();
  point_at_.bind(1, series_id);
  point_at_.bind(2, ts_ms);
  if (!point_at_.executeStep()) return std::nullopt;
  Point point = point_from_columns(point_at_.getColumn(0), point_at_.getColumn(1));
  point_at_.reset();
  return point;
}

std::vector<SeriesPoints> HistoryReader::changes(const std::string& chart,
                                                 const std::optional<std::string>& dimension,
                                                 std::int64_t since_ms, std::int64_t until_ms) {
  std::vector<SeriesPoints> result;
  for (SeriesInfo& series : series(chart, dimension)) {
    SeriesPoints rows{std::move(series), {}};
    if (std::optional<Point> carried = point_at(rows.series.id, since_ms)) {
      rows.points.push_back(*carried);
    }
    points_between_.reset();
    points_between_.bind(1, rows.series.id);
    points_between_.bind(2, since_ms);
    points_between_.bind(3, until_ms);
    while (points_between_.executeStep()) {
      rows.points.push_back(
          point_from_columns(points_between_.getColumn(0), points_between_.getColumn(1)));
    }
    if (!rows.points.empty()) result.push_back(std::move(rows));
  }
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
    std::optional<std::int64_t> value;
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

Snapshot HistoryReader::snapshot_at(std::int64_t ts_ms) {
  Snapshot snapshot;
  snapshot.ts_ms = ts_ms;
  SQLite::Statement spans(db_,
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
  SQLite::Statement values(
      db_, std::string("SELECT s.id, s.chart, s.dimension, s.queue_key, s.owner_uid, p.ts, "
                       "p.value FROM series s JOIN points p ON p.series_id = s.id AND p.ts = "
                       "(SELECT max(ts) FROM points WHERE series_id = s.id AND ts <= ?) "
                       "WHERE p.value IS NOT NULL ") +
               kSeriesOrder);
  values.bind(1, ts_ms);
  while (values.executeStep()) {
    SeriesInfo series = series_from_row(values);
    snapshot.values.push_back(
        {std::move(series), point_from_columns(values.getColumn(5), values.getColumn(6))});
  }
  return snapshot;
}

}  // namespace ipctrail
