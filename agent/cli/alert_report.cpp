#include "agent/cli/alert_report.h"

#include <fmt/format.h>

#include "model/time_text.h"

namespace ipctrail {

std::string alert_value_text(const std::optional<double>& value) {
  return value ? fmt::format("{:.1f}", *value) : "-";
}

std::string alert_states_table(const std::vector<AlertRecord>& states) {
  std::string out = fmt::format("{:<30} {:<10} {:<13} {:>7}  {:<24}  {}\n", "alert", "instance",
                                "status", "value", "since", "summary");
  for (const AlertRecord& state : states) {
    out += fmt::format("{:<30} {:<10} {:<13} {:>7}  {:<24}  {}\n", state.alert,
                       state.instance.empty() ? "-" : state.instance, status_name(state.new_status),
                       alert_value_text(state.new_value), iso8601_utc(state.ts_ms), state.summary);
  }
  return out;
}

nlohmann::json alert_state_json(const AlertRecord& state) {
  return {{"alert", state.alert},
          {"chart", state.chart},
          {"instance", state.instance},
          {"status", status_name(state.new_status)},
          {"status_code", static_cast<int>(state.new_status)},
          {"value", state.new_value ? nlohmann::json(*state.new_value) : nlohmann::json()},
          {"since", state.ts_ms},
          {"since_time", iso8601_utc(state.ts_ms)},
          {"summary", state.summary}};
}

}  // namespace ipctrail
