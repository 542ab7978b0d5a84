// The words and numbers the three renderers share, so that they print the same facts the same
// way (internal to report/).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "report/report.h"

namespace ipctrail {

// "2026-11-26T03:00:00.250Z", or "never".
std::string time_or_never(const std::optional<std::int64_t>& ts_ms);
// "12", "0.5", "1048576"; "unknown" for nullopt.
std::string number_text(const std::optional<double>& value);
// "100.0%"; "-" for nullopt.
std::string percent_text(const std::optional<double>& percent);
// "1h2m", "2m30s", "3.2s", "250ms".
std::string duration_text(std::int64_t ms);
// "32.0s before" / "5.0s after".
std::string lead_text(std::int64_t lead_ms);
// "yes", "no", or "unknown (the last minute was not sampled)".
std::string still_happening_text(const StillHappening& still);
// The limit as words: "10 (semmni)", "unknown (semmni)", "none system-wide".
std::string limit_text(const ResourceReport& resource);

inline constexpr const char* kNoAttribution = "per-process attribution: not recorded in this file";

}  // namespace ipctrail
