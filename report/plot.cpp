#include "report/plot.h"

#include <algorithm>

namespace ipctrail {

namespace {

// The column a time falls in, or nullopt outside [since, until).
std::optional<std::size_t> column_of(std::int64_t ts_ms, std::int64_t since_ms,
                                     std::int64_t until_ms, std::size_t columns) {
  if (ts_ms < since_ms || ts_ms >= until_ms) return std::nullopt;
  auto offset = static_cast<__int128>(ts_ms - since_ms) * static_cast<__int128>(columns);
  return static_cast<std::size_t>(offset / (until_ms - since_ms));
}

void widen(PlotColumn& column, const std::optional<double>& value) {
  if (!value) return;
  column.min = column.min ? std::min(*column.min, *value) : *value;
  column.max = column.max ? std::max(*column.max, *value) : *value;
}

}  // namespace

std::vector<PlotColumn> min_max_columns(const std::vector<Level>& levels, std::int64_t since_ms,
                                        std::int64_t until_ms, std::size_t columns) {
  std::vector<PlotColumn> result(columns);
  if (columns == 0 || until_ms <= since_ms) return result;
  std::optional<double> current = value_at(levels, since_ms);
  std::size_t next = static_cast<std::size_t>(
      std::upper_bound(levels.begin(), levels.end(), since_ms,
                       [](std::int64_t ts, const Level& level) { return ts < level.ts_ms; }) -
      levels.begin());
  for (std::size_t column = 0; column < columns; ++column) {
    // The value in effect as the column starts, then every change within it.
    auto column_start =
        since_ms + static_cast<std::int64_t>(static_cast<__int128>(until_ms - since_ms) *
                                             static_cast<__int128>(column) / columns);
    while (next < levels.size() && levels[next].ts_ms <= column_start) {
      current = levels[next++].value;
    }
    widen(result[column], current);
    auto column_end =
        since_ms + static_cast<std::int64_t>(static_cast<__int128>(until_ms - since_ms) *
                                             static_cast<__int128>(column + 1) / columns);
    while (next < levels.size() && levels[next].ts_ms < column_end) {
      current = levels[next++].value;
      widen(result[column], current);
    }
  }
  return result;
}

std::vector<std::int64_t> sums_per_column(const std::vector<CountRun>& runs, std::int64_t since_ms,
                                          std::int64_t until_ms, std::size_t columns) {
  std::vector<std::int64_t> sums(columns, 0);
  if (columns == 0 || until_ms <= since_ms) return sums;
  for (const CountRun& run : runs) {
    for (std::int64_t tick = 0; tick < run.ticks; ++tick) {
      std::int64_t ts_ms =
          run.ticks == 1
              ? run.first_tick_ms
              : run.first_tick_ms + (run.last_tick_ms - run.first_tick_ms) * tick / (run.ticks - 1);
      // A tick at `until` itself belongs to the last column.
      if (ts_ms == until_ms) ts_ms = until_ms - 1;
      if (std::optional<std::size_t> column = column_of(ts_ms, since_ms, until_ms, columns)) {
        sums[*column] += run.per_tick;
      }
    }
  }
  return sums;
}

}  // namespace ipctrail
