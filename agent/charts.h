// The chart view of a Sample: the six reference charts (ids exactly as DESIGN.md §2), as the
// generic series that printing, storage and export consume.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/sample.h"

namespace ipctrail {

struct Dimension {
  std::string name;
  std::uint64_t value = 0;
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
}  // namespace chart_id

// All six charts, always, in the reference order; a part that was not collected has no dimensions.
std::vector<Chart> charts_of(const Sample& sample);

}  // namespace ipctrail
