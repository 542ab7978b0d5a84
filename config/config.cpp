#include "config/config.h"

namespace ipctrail {

std::map<std::string, AlertConfig, std::less<>> Config::default_alerts() {
  std::map<std::string, AlertConfig, std::less<>> alerts;
  for (std::string_view name : kAlertNames) alerts.emplace(name, AlertConfig{});
  return alerts;
}

}  // namespace ipctrail
