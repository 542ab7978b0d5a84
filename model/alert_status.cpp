#include "model/alert_status.h"

namespace ipctrail {

std::string_view status_name(AlertStatus status) {
  switch (status) {
    case AlertStatus::kRemoved:
      return "REMOVED";
    case AlertStatus::kUndefined:
      return "UNDEFINED";
    case AlertStatus::kUninitialized:
      return "UNINITIALIZED";
    case AlertStatus::kClear:
      return "CLEAR";
    case AlertStatus::kRaised:
      return "RAISED";
    case AlertStatus::kWarning:
      return "WARNING";
    case AlertStatus::kCritical:
      return "CRITICAL";
  }
  return "UNKNOWN";
}

}  // namespace ipctrail
