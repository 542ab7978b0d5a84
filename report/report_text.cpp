#include "report/report_text.h"

#include <fmt/format.h>

#include <cmath>

#include "model/time_text.h"

namespace ipctrail {

std::string time_or_never(const std::optional<std::int64_t>& ts_ms) {
  return ts_ms ? iso8601_utc(*ts_ms) : "never";
}

std::string number_text(const std::optional<double>& value) {
  if (!value) return "unknown";
  if (std::floor(*value) == *value && std::fabs(*value) < 1e18) {
    return fmt::format("{}", static_cast<std::int64_t>(*value));
  }
  return fmt::format("{:.2f}", *value);
}

std::string percent_text(const std::optional<double>& percent) {
  return percent ? fmt::format("{:.1f}%", *percent) : "-";
}

std::string duration_text(std::int64_t ms) {
  std::int64_t magnitude = ms < 0 ? -ms : ms;
  if (magnitude < 1000) return fmt::format("{}ms", magnitude);
  if (magnitude < 60'000) return fmt::format("{:.1f}s", static_cast<double>(magnitude) / 1000);
  std::int64_t s = magnitude / 1000;
  if (s < 3600) return fmt::format("{}m{}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{}m", s / 3600, s % 3600 / 60);
  return fmt::format("{}d{}h", s / 86400, s % 86400 / 3600);
}

std::string lead_text(std::int64_t lead_ms) {
  return duration_text(lead_ms) + (lead_ms >= 0 ? " before" : " after");
}

std::string still_happening_text(const StillHappening& still) {
  if (still.yes()) return "yes";
  return still.sampled ? "no" : "unknown (the last minute was not sampled)";
}

std::string limit_text(const ResourceReport& resource) {
  if (resource.limit_name.empty()) return "none system-wide";
  return fmt::format("{} ({})",
                     resource.limit ? number_text(resource.limit) : "unknown or unlimited",
                     resource.limit_name);
}

}  // namespace ipctrail
