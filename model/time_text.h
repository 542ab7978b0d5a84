// Unix-millisecond timestamps as ISO-8601 UTC text, the one time format ipctrail prints.
#pragma once

#include <cstdint>
#include <string>

namespace ipctrail {

// "2026-11-26T03:00:00.250Z"
std::string iso8601_utc(std::int64_t unix_ms);

}  // namespace ipctrail
