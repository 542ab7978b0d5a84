#include "model/time_parse.h"

#include <fmt/format.h>

#include <cctype>
#include <optional>

#include "model/units.h"

namespace ipctrail {

namespace {

// Reads exactly `digits` decimal digits at `at`, advancing it.
std::optional<int> read_fixed(std::string_view text, std::size_t& at, std::size_t digits) {
  if (at + digits > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    char c = text[at + i];
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  at += digits;
  return value;
}

bool take(std::string_view text, std::size_t& at, char expected) {
  if (at < text.size() && text[at] == expected) {
    ++at;
    return true;
  }
  return false;
}

// A time of day, "hh:mm" with optional ":ss" and ".fff", at `at`, advancing it; as milliseconds
// since midnight.
std::optional<std::int64_t> read_clock(std::string_view text, std::size_t& at) {
  auto hour = read_fixed(text, at, 2);
  if (!hour || !take(text, at, ':')) return std::nullopt;
  auto minute = read_fixed(text, at, 2);
  if (!minute) return std::nullopt;
  int second = 0, millisecond = 0;
  if (take(text, at, ':')) {
    auto s = read_fixed(text, at, 2);
    if (!s) return std::nullopt;
    second = *s;
    if (take(text, at, '.')) {
      int scale = 100;
      std::size_t digits = 0;
      while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at]))) {
        millisecond += (text[at++] - '0') * scale;
        scale /= 10;
        ++digits;
      }
      if (digits == 0) return std::nullopt;
    }
  }
  if (*hour > 23 || *minute > 59 || second > 60) return std::nullopt;
  return *hour * 3'600'000LL + *minute * 60'000LL + second * 1000LL + millisecond;
}

// The rest of the text: nothing (UTC), "Z", or "+hh:mm"/"-hh:mm" (the colon optional); as the
// milliseconds the local time is ahead of UTC.
std::optional<std::int64_t> read_offset_to_end(std::string_view text, std::size_t& at) {
  std::int64_t offset_ms = 0;
  if (at < text.size() && (text[at] == 'Z' || text[at] == 'z')) {
    ++at;
  } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    int sign = text[at++] == '-' ? -1 : 1;
    auto oh = read_fixed(text, at, 2);
    if (!oh) return std::nullopt;
    take(text, at, ':');
    auto om = read_fixed(text, at, 2);
    if (!om || *oh > 23 || *om > 59) return std::nullopt;
    offset_ms = sign * (*oh * 3'600'000LL + *om * 60'000LL);
  }
  if (at != text.size()) return std::nullopt;
  return offset_ms;
}

constexpr std::int64_t kDayMs = 86'400'000;

std::optional<std::int64_t> parse_absolute(std::string_view text) {
  using namespace std::chrono;
  std::size_t at = 0;
  auto year = read_fixed(text, at, 4);
  if (!year || !take(text, at, '-')) return std::nullopt;
  auto month = read_fixed(text, at, 2);
  if (!month || !take(text, at, '-')) return std::nullopt;
  auto day = read_fixed(text, at, 2);
  if (!day) return std::nullopt;
  year_month_day date{std::chrono::year(*year), std::chrono::month(static_cast<unsigned>(*month)),
                      std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok()) return std::nullopt;

  std::int64_t clock_ms = 0;
  if (take(text, at, 'T') || take(text, at, ' ')) {
    std::optional<std::int64_t> clock = read_clock(text, at);
    if (!clock) return std::nullopt;
    clock_ms = *clock;
  }
  std::optional<std::int64_t> offset_ms = read_offset_to_end(text, at);
  if (!offset_ms) return std::nullopt;
  std::int64_t days_ms = duration_cast<milliseconds>(sys_days(date).time_since_epoch()).count();
  return days_ms + clock_ms - *offset_ms;
}

// "19:15", "19:15:30.250", "19:15+02:00", "19:15:30Z": that time of day today, where "today" is
// the date now in the zone the offset names (UTC without one), even when the moment is later than
// now: a time typed without a date means today's, never yesterday's.
std::optional<std::int64_t> parse_time_of_day(std::string_view text, std::int64_t now_ms) {
  std::size_t at = 0;
  std::optional<std::int64_t> clock_ms = read_clock(text, at);
  if (!clock_ms) return std::nullopt;
  std::optional<std::int64_t> offset_ms = read_offset_to_end(text, at);
  if (!offset_ms) return std::nullopt;
  // The answer is within two days of now, so a "now" that far outside the range of times gives a
  // time outside it too; refusing it here keeps the arithmetic below far from overflowing.
  if (now_ms < kEarliestTimeMs - 2 * kDayMs || now_ms > kLatestTimeMs + 2 * kDayMs) {
    return kEarliestTimeMs - 1;
  }
  std::int64_t local_now = now_ms + *offset_ms;
  std::int64_t local_midnight = local_now - (local_now % kDayMs + kDayMs) % kDayMs;
  return local_midnight + *clock_ms - *offset_ms;
}

}  // namespace

std::chrono::milliseconds parse_positive_duration(std::string_view text) {
  std::optional<Duration> duration = parse_duration(text);
  if (!duration || duration->count() <= 0) {
    throw TimeTextError(
        fmt::format("'{}' is not a positive duration; write e.g. 500ms, 1s, 15m, 1h, 2d", text));
  }
  return *duration;
}

std::int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t parse_time(std::string_view text, std::int64_t now_ms) {
  auto in_range = [text](std::int64_t when) {
    if (when < kEarliestTimeMs || when > kLatestTimeMs) {
      throw TimeTextError(
          fmt::format("'{}' is out of range: times go from {}", text, kTimeRangeText));
    }
    return when;
  };
  if (text == "now") return in_range(now_ms);
  if (!text.empty() && text.front() == '-') {
    // Anything else falls through to the message that lists every accepted form.
    std::optional<Duration> ago = parse_duration(text.substr(1));
    if (ago && ago->count() > 0) {
      std::int64_t when = 0;
      if (__builtin_sub_overflow(now_ms, ago->count(), &when)) when = kEarliestTimeMs - 1;
      return in_range(when);
    }
  }
  if (std::optional<std::int64_t> absolute = parse_absolute(text)) return in_range(*absolute);
  if (std::optional<std::int64_t> today = parse_time_of_day(text, now_ms)) return in_range(*today);
  throw TimeTextError(fmt::format(
      "'{}' is not a time; write now, -1h, -15m, 19:15 (today), 2026-11-26T03:00:00Z or "
      "2026-11-26 03:00 (UTC unless an offset like +02:00 is given)",
      text));
}

}  // namespace ipctrail
