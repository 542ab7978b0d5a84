// /proc/<pid>/stat: the one field ipctrail needs from it, a process's start time. Shared by the
// leak rules (pid reuse) and namespace discovery (the oldest process of a namespace).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ipctrail {

// Field 22, starttime, in clock ticks since boot, counted after the ")" that ends the command name
// (which may hold spaces and parentheses itself); empty when the text is not a stat line.
std::optional<std::uint64_t> parse_process_start_ticks(std::string_view stat_text);

}  // namespace ipctrail
