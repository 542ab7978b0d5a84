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

// The times the command line accepts, as unix milliseconds: 1970-01-01T00:00:00Z to
// 9999-12-31T23:59:59.999Z. The difference of any two, and any one plus any duration up to the
// whole range, fit in 64 bits with room to spare.
inline constexpr std::int64_t kEarliestTimeMs = 0;
inline constexpr std::int64_t kLatestTimeMs = 253'402'300'799'999;
inline constexpr std::string_view kTimeRangeText =
    "1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z";

// A positive duration as config/units.h reads it ("500ms", "1s", "15m", "2d"); throws
// TimeTextError naming the text otherwise.
std::chrono::milliseconds parse_positive_duration(std::string_view text);

// A moment as unix milliseconds: "now"; relative to now as "-1h", "-15m", "-90s";
// absolute as "2026-11-26T03:00:00Z", "2026-11-26 03:00", "2026-11-26"; or a time of day today as
// "19:15", "19:15:30". Clock times take optional seconds, ".fff" fractions and a "Z" or
// "+hh:mm"/"-hh:mm" offset; without an offset they are UTC. A time of day is on the date it is
// now in its zone ("19:15" today in UTC, "19:15+02:00" today at +02:00), even when that is later
// than now: people who type "19:15" mean today's, and yesterday's needs its date.
// Throws TimeTextError naming the accepted range for a time outside it.
std::int64_t parse_time(std::string_view text, std::int64_t now_ms);

// The wall clock as unix milliseconds: the `now_ms` that times typed on the command line, history
// rows and samples are measured against.
std::int64_t unix_now_ms();

}  // namespace ipctrail
