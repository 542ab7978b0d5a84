// Stored alert transitions and states as `ipctrail alerts` and `ipctrail at` print them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "storage/history_reader.h"

namespace ipctrail {

// "91.2", or "-" when unknown.
std::string alert_value_text(const std::optional<double>& value);

// One table of states (the new status of each record, since its ts), with a header line.
std::string alert_states_table(const std::vector<AlertRecord>& states);

// {"alert", "chart", "instance", "status", "status_code", "value", "since", "since_time",
// "summary"}: the state a record leaves its instance in.
nlohmann::json alert_state_json(const AlertRecord& state);

}  // namespace ipctrail
