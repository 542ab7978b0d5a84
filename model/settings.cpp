#include "model/settings.h"

namespace ipctrail {

AlertKind alert_kind(std::string_view alert_name) {
  if (alert_name == "ipc_call_failures") return AlertKind::kCallFailures;
  if (alert_name.ends_with("_exhaustion")) return AlertKind::kForecast;
  return AlertKind::kUsage;
}

std::string call_failure_name(const CallFailure& failure) {
  std::string name(kIpcCallNames[index_of(failure.call)]);
  name += '_';
  name += kErrnoClassNames[index_of(failure.error)];
  return name;
}

AlertConfigs Config::default_alerts() {
  AlertConfigs alerts;
  for (std::string_view name : kAlertNames) {
    AlertConfig& alert = alerts.emplace(name, AlertConfig{}).first->second;
    switch (alert_kind(name)) {
      case AlertKind::kUsage:
        break;
      case AlertKind::kCallFailures:
        // The failures that mean a limit is exhausted: no array, queue or segment can be made.
        alert.window = std::chrono::minutes(1);
        for (IpcCall call : {IpcCall::kSemget, IpcCall::kMsgget, IpcCall::kShmget}) {
          for (ErrnoClass error : {ErrnoClass::kENOSPC, ErrnoClass::kENOMEM}) {
            alert.critical_failures.push_back({call, error});
          }
        }
        // A full queue: its consumer stalled.
        alert.warning_failures.push_back({IpcCall::kMsgsnd, ErrnoClass::kEAGAIN});
        break;
      case AlertKind::kForecast:
        alert.window = std::chrono::minutes(10);
        break;
    }
  }
  return alerts;
}

}  // namespace ipctrail
