// Test support: alert transitions as the engine reports them, for writing through Store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "agent/alerts/alerts.h"

namespace ipctrail::testing {

// `alert` and `chart` must be string literals (AlertTransition keeps views of them).
inline AlertTransition transition(std::int64_t ts_ms, const char* alert, const char* chart,
                                  std::string instance, AlertStatus from, AlertStatus to,
                                  std::optional<double> value, std::string summary = "") {
  AlertTransition made;
  made.ts_ms = ts_ms;
  made.alert = alert;
  made.chart = chart;
  made.instance = std::move(instance);
  made.old_status = from;
  made.new_status = to;
  made.new_value = value;
  made.warn = 80;
  made.summary = std::move(summary);
  return made;
}

}  // namespace ipctrail::testing
