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

// The six reference charts, always, in the reference order (a part that was not collected has no
// dimensions); then, when the sample has call rates, the four call charts in calls/s. The error
// chart has a `<call>_<ERRNO>` dimension for each failure seen since counting started.
std::vector<Chart> charts_of(const Sample& sample);

}  // namespace ipctrail
