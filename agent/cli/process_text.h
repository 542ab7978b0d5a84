// How the commands name a process (internal to cli/): the same words in `who` and `objects`.
#pragma once

#include <fmt/format.h>

#include <optional>
#include <string>

#include "storage/history_reader.h"

namespace ipctrail {

// "apache2 (apache2.service)", or "apache2" when the owner of its cgroup is not known.
inline std::string process_name_text(const std::string& comm,
                                     const std::optional<std::string>& unit) {
  return unit ? fmt::format("{} ({})", comm, *unit) : comm;
}

// "apache2 (pid 4711, apache2.service)", "systemd-logind (pid 612)".
inline std::string process_text(const ProcessRef& process) {
  return process.unit ? fmt::format("{} (pid {}, {})", process.comm, process.pid, *process.unit)
                      : fmt::format("{} (pid {})", process.comm, process.pid);
}

}  // namespace ipctrail
