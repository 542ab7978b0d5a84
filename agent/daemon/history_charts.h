// What the agent stores from a Sample: the six core charts (queues labelled with key and owner)
// and the limits as one more chart, so `ipctrail at` can show usage against the limits in force.
#pragma once

#include "model/sample.h"
#include "model/tick_record.h"

namespace ipctrail {

// Refills `tick` (reusing its storage) from `sample`.
void fill_tick_record(const Sample& sample, std::int64_t interval_ms, TickRecord& tick);

}  // namespace ipctrail
