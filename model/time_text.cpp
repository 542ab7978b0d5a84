#include "model/time_text.h"

#include <fmt/format.h>

#include <chrono>

namespace ipctrail {

std::string iso8601_utc(std::int64_t unix_ms) {
  using namespace std::chrono;
  sys_time<milliseconds> when{milliseconds(unix_ms)};
  sys_days day = floor<days>(when);
  year_month_day date{day};
  hh_mm_ss clock{when - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     clock.hours().count(), clock.minutes().count(), clock.seconds().count(),
                     clock.subseconds().count());
}

}  // namespace ipctrail
