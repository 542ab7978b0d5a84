#include "model/settings.h"

namespace ipctrail {

AlertConfigs Config::default_alerts() {
  AlertConfigs alerts;
  for (std::string_view name : kAlertNames) alerts.emplace(name, AlertConfig{});
  return alerts;
}

}  // namespace ipctrail
