// The chart view of a Sample: the six reference charts (ids exactly as docs/design.md §2) and the
// four BPF call charts, as the generic series that printing, storage and export consume.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "model/sample.h"

namespace ipctrail {

// A level or a count read from the kernel is an exact integer, and so is every chart of ours today
// (the call charts hold counts per tick; rates are derived when read). A fractional value keeps
// its kind through storage and JSON, should a chart ever need one.
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

namespace chart_id {
inline constexpr std::string_view kSemaphores = "system.ipc_semaphores";
inline constexpr std::string_view kSemaphoreArrays = "system.ipc_semaphore_arrays";
inline constexpr std::string_view kQueueMessages = "system.message_queue_message";
inline constexpr std::string_view kQueueBytes = "system.message_queue_bytes";
inline constexpr std::string_view kShmSegments = "system.shared_memory_segments";
inline constexpr std::string_view kShmBytes = "system.shared_memory_bytes";
inline constexpr std::string_view kSemaphoreCalls = "system.ipc_semaphore_calls";
inline constexpr std::string_view kQueueCalls = "system.message_queue_calls";
inline constexpr std::string_view kShmCalls = "system.shared_memory_calls";
inline constexpr std::string_view kCallErrors = "system.ipc_call_errors";
}  // namespace chart_id

// The call charts hold exact counts: the calls made during one tick (since the previous reading).
// Rates are derived when reading (a count over the time it covers), so nothing is rounded when
// stored and `query --step` can sum them exactly.
inline constexpr std::string_view kCallsUnits = "calls";
bool is_calls_per_tick(std::string_view chart_id);

// The six reference charts, always, in the reference order (a part that was not collected has no
// dimensions); then, when the sample has calls since a previous reading, the four call charts. The
// error chart has a `<call>_<ERRNO>` dimension for each failure seen since counting started.
std::vector<Chart> charts_of(const Sample& sample);

}  // namespace ipctrail
