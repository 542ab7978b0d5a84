#include "report/process_text.h"

#include <fmt/format.h>

namespace ipctrail {

std::string process_name_text(const std::string& comm, const std::optional<std::string>& unit) {
  return unit ? fmt::format("{} ({})", comm, *unit) : comm;
}

std::string process_text(const ProcessRef& process) {
  return process.unit ? fmt::format("{} (pid {}, {})", process.comm, process.pid, *process.unit)
                      : fmt::format("{} (pid {})", process.comm, process.pid);
}

std::string pids_text(const std::vector<std::int32_t>& pids) {
  constexpr std::size_t kShown = 5;
  std::string text;
  for (std::size_t i = 0; i < pids.size() && i < kShown; ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(pids[i]);
  }
  if (pids.size() > kShown) text += fmt::format(" and {} more", pids.size() - kShown);
  return text;
}

}  // namespace ipctrail
