// Stored alert transitions and states as `ipctrail alerts` and `ipctrail at` print them.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "storage/history_reader.h"

namespace ipctrail {

// What an alert instance's resource holds at the time asked (`alerts --active`): its latest
// stored value, so that a resource sitting at 100% does not show only the 85% of the transition
// that raised its alert. The unit is the resource's, not the alert's: semaphore arrays for
// semaphore_arrays_used and semaphore_arrays_exhaustion alike.
struct CurrentValue {
  std::int64_t ts_ms = 0;  // of the stored row (or tick) it comes from
  double value = 0;
  std::optional<double> limit;  // the limit in force then; empty when the resource has none stored
  std::string unit;             // "semaphore arrays", "bytes queued", "failures in the last 1m"

  std::optional<double> percent() const;
};

// The current value of each state's resource at `at_ms`, in the order of `states`; empty where
// the history holds none (the agent was down for over an hour, or the alert is ipctrail's leak
// alert, whose resource is no stored series).
std::vector<std::optional<CurrentValue>> current_values(HistoryReader& reader,
                                                        const std::vector<AlertRecord>& states,
                                                        std::int64_t at_ms);

// "91.2", or "-" when unknown.
std::string alert_value_text(const std::optional<double>& value);

// One table of states (the new status of each record, since its ts), with a header line; with
// `now`, one entry per state, a column of what its resource holds now.
std::string alert_states_table(const std::vector<AlertRecord>& states,
                               const std::vector<std::optional<CurrentValue>>* now = nullptr);

// {"alert", "chart", "instance", "status", "status_code", "value", "since", "since_time",
// "summary"}: the state a record leaves its instance in.
nlohmann::json alert_state_json(const AlertRecord& state);

// {"ts", "time", "value", "limit", "percent", "unit"}, or null.
nlohmann::json current_value_json(const std::optional<CurrentValue>& now);

// "128 of 128 (100%)", "4096 bytes queued", "3 failures in the last 1m", or "-".
std::string current_value_text(const std::optional<CurrentValue>& now);

}  // namespace ipctrail
