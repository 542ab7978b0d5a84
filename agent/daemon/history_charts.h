// What the agent stores from a Sample: the six core charts (queues labelled with key and owner)
// and the limits as one more chart, so `ipctrail at` can show usage against the limits in force.
#pragma once

#include "agent/daemon/namespace_watch.h"
#include "model/sample.h"
#include "model/tick_record.h"

namespace ipctrail {

// Refills `tick` (reusing its storage) from `sample`.
void fill_tick_record(const Sample& sample, std::int64_t interval_ms, TickRecord& tick);

// Another namespace's part of the tick (docs/design.md §9): the same charts and objects as the
// agent's own, or, when it could not be sampled, nothing and `sampled` false, so that its series
// stay as they were (a failed read is not a removal).
NamespaceTickRecord namespace_tick_record(WatchedNamespace& watched);

}  // namespace ipctrail
