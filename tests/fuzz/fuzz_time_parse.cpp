// Times, durations and sizes as people type them (--since, --until, --step, at, --interval, and
// the config's durations and sizes), and the text they are printed back as. Refusals are the
// documented exceptions; anything else, and any overflow UBSan sees, is a finding.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/time_parse.h"
#include "model/time_text.h"
#include "model/units.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    ipctrail::parse_positive_duration(text);
  } catch (const ipctrail::TimeTextError&) {
  }
  // A fixed "now" keeps runs reproducible; the extremes of int64 come from the inputs.
  constexpr std::int64_t kNowMs = 1'764'126'000'000;
  try {
    ipctrail::iso8601_utc(ipctrail::parse_time(text, kNowMs));
  } catch (const ipctrail::TimeTextError&) {
  }
  if (std::optional<ipctrail::Duration> duration = ipctrail::parse_duration(text)) {
    ipctrail::format_duration(*duration);
  }
  if (std::optional<std::uint64_t> bytes = ipctrail::parse_size(text)) {
    ipctrail::format_size(*bytes);
  }
  return 0;
}
