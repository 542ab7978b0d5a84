// Downsampling for the HTML plots: a day at one second is 86,400 values and a plot is about 800
// pixels wide, so each pixel column shows the lowest and the highest value in effect during it.
// Averaging or picking one value per column would hide exactly what a post-incident review looks
// for: the one-second spike to the limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "report/report.h"

namespace ipctrail {

struct PlotColumn {
  std::optional<double> min;  // both nullopt: nothing known during the column
  std::optional<double> max;
};

// The step function `levels` over [since, until) cut into `columns` equal columns.
std::vector<PlotColumn> min_max_columns(const std::vector<Level>& levels, std::int64_t since_ms,
                                        std::int64_t until_ms, std::size_t columns);

// The counts of `runs` summed per column (a run's ticks are evenly spaced from its first to its
// last), so that no failure is lost to downsampling either.
std::vector<std::int64_t> sums_per_column(const std::vector<CountRun>& runs, std::int64_t since_ms,
                                          std::int64_t until_ms, std::size_t columns);

}  // namespace ipctrail
