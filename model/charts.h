// The chart view of a Sample: the six reference charts and the four BPF call charts of
// model/chart_table.h, as the generic series that printing, storage and export consume.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "model/chart_table.h"
#include "model/sample.h"

namespace ipctrail {

// A level or a count read from the kernel is an exact integer; a rate (calls per second between
// two readings) is fractional: one failure in a 10 s interval is 0.1/s, which an integer would
// round away. Consumers keep the kind: JSON prints integers as integers.
using DimensionValue = std::variant<std::uint64_t, double>;

struct Dimension {
  std::string name;
  DimensionValue value = std::uint64_t{0};
};

struct Chart {
  std::string_view id;
  std::string_view units;
  std::vector<Dimension> dimensions;
};

// Short names for the ids of model/chart_table.h.
namespace chart_id {
inline constexpr std::string_view kSemaphores = chart::kSemaphores.id;
inline constexpr std::string_view kSemaphoreArrays = chart::kSemaphoreArrays.id;
inline constexpr std::string_view kQueueMessages = chart::kQueueMessages.id;
inline constexpr std::string_view kQueueBytes = chart::kQueueBytes.id;
inline constexpr std::string_view kShmSegments = chart::kShmSegments.id;
inline constexpr std::string_view kShmBytes = chart::kShmBytes.id;
inline constexpr std::string_view kSemaphoreCalls = chart::kSemaphoreCalls.id;
inline constexpr std::string_view kQueueCalls = chart::kQueueCalls.id;
inline constexpr std::string_view kShmCalls = chart::kShmCalls.id;
inline constexpr std::string_view kCallErrors = chart::kCallErrors.id;
inline constexpr std::string_view kLimits = chart::kLimits.id;
}  // namespace chart_id

// The six reference charts, always, in the reference order (a part that was not collected has no
// dimensions); then, when the sample has call rates, the four call charts in calls/s. The error
// chart has a `<call>_<ERRNO>` dimension for each failure seen since counting started.
std::vector<Chart> charts_of(const Sample& sample);

}  // namespace ipctrail
