// What the agent stores from a Sample: the six core charts (queues labelled with key and owner)
// and the limits as one more chart, so `ipctrail at` can show usage against the limits in force.
#pragma once

#include <string_view>

#include "model/sample.h"
#include "model/tick_record.h"

namespace ipctrail {

namespace chart_id {
inline constexpr std::string_view kLimits = "system.ipc_limits";
}  // namespace chart_id

// Refills `tick` (reusing its storage) from `sample`.
void fill_tick_record(const Sample& sample, std::int64_t interval_ms, TickRecord& tick);

}  // namespace ipctrail
