// The six alerts as data: which chart each watches, and how much of which kernel limit a Sample
// uses. The engine (agent/alerts.h) turns these usages into statuses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/sample.h"

namespace ipctrail {

// How much of a limit one instance uses; either side is empty when it is not known.
struct Usage {
  std::string instance;  // "" for a whole-system alert; the decimal msqid for a per-queue one
  std::optional<std::uint64_t> used;
  std::optional<std::uint64_t> limit;
};

struct AlertRule {
  std::string_view name;        // one of kAlertNames
  std::string_view chart;       // the id of the chart it watches (model/chart_table.h)
  std::string_view what;        // what `used` counts, for summaries: "semaphore arrays"
  std::string_view limit_name;  // the limit it is compared with: "semmni"
  bool per_queue;               // one instance per message queue, REMOVED when its queue goes
  // Appends the usage of every instance present in `sample`. Returns false when a per-queue
  // rule cannot tell which queues exist (queues not collected): nothing is appended then.
  bool (*measure)(const Sample& sample, std::vector<Usage>& out);
};

// Every usage rule, in kAlertNames order (the usage alerts come first there).
const std::vector<AlertRule>& alert_rules();

// The usage rule that measures what an exhaustion forecast (AlertKind::kForecast) watches:
// semaphore_arrays_used's for semaphore_arrays_exhaustion, and so on. Throws std::out_of_range
// for a name that is no forecast.
const AlertRule& forecast_resource(std::string_view forecast_name);

}  // namespace ipctrail
