// How ipctrail names a process from the history (BPF's records), in one place so that `who`,
// `objects` and `report` use the same words.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/history_reader.h"

namespace ipctrail {

// "apache2 (apache2.service)", or "apache2" when the owner of its cgroup is not known.
std::string process_name_text(const std::string& comm, const std::optional<std::string>& unit);

// "apache2 (pid 4711, apache2.service)", "systemd-logind (pid 612)".
std::string process_text(const ProcessRef& process);

// "4711", "4711, 4712", "4711, 4712, 4713, 4714, 4715 and 3 more".
std::string pids_text(const std::vector<std::int32_t>& pids);

}  // namespace ipctrail
