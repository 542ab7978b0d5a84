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

  int hour = 0, minute = 0, second = 0, millisecond = 0;
  if (take(text, at, 'T') || take(text, at, ' ')) {
    auto h = read_fixed(text, at, 2);
    if (!h || !take(text, at, ':')) return std::nullopt;
    auto m = read_fixed(text, at, 2);
    if (!m) return std::nullopt;
    hour = *h;
    minute = *m;
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
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
  }
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
  std::int64_t days_ms = duration_cast<milliseconds>(sys_days(date).time_since_epoch()).count();
  return days_ms + hour * 3'600'000LL + minute * 60'000LL + second * 1000LL + millisecond -
         offset_ms;
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
  throw TimeTextError(fmt::format(
      "'{}' is not a time; write now, -1h, -15m, 2026-11-26T03:00:00Z or 2026-11-26 03:00 (UTC "
      "unless an offset like +02:00 is given)",
      text));
}

}  // namespace ipctrail
