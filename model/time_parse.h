// Reading times and durations that people type on the command line.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string_view>

namespace ipctrail {

class TimeTextError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A positive duration as config/units.h reads it ("500ms", "1s", "15m", "2d"); throws
// TimeTextError naming the text otherwise.
std::chrono::milliseconds parse_positive_duration(std::string_view text);

// A moment as unix milliseconds: "now"; relative to now as "-1h", "-15m", "-90s";
// or absolute as "2026-11-26T03:00:00Z", "2026-11-26 03:00", "2026-11-26", with optional
// seconds, ".fff" fractions and a "Z" or "+hh:mm"/"-hh:mm" offset. Without an offset it is UTC.
std::int64_t parse_time(std::string_view text, std::int64_t now_ms);

}  // namespace ipctrail
