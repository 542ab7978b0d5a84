#include "model/units.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

namespace ipctrail {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// A non-negative decimal number "12" or "1.25" followed by an optional unit.
struct Quantity {
  std::uint64_t whole = 0;
  std::uint64_t fraction = 0;        // the digits after the point, as an integer
  std::uint64_t fraction_scale = 1;  // 10^(number of fraction digits)
  std::string_view unit;
};

std::optional<Quantity> split_quantity(std::string_view text) {
  text = trim(text);
  Quantity quantity;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [after_whole, error] = std::from_chars(begin, end, quantity.whole);
  if (error != std::errc() || after_whole == begin) return std::nullopt;
  const char* cursor = after_whole;
  if (cursor != end && *cursor == '.') {
    ++cursor;
    const char* digits = cursor;
    while (cursor != end && std::isdigit(static_cast<unsigned char>(*cursor))) {
      if (quantity.fraction_scale > std::numeric_limits<std::uint64_t>::max() / 100) {
        return std::nullopt;
      }
      quantity.fraction = quantity.fraction * 10 + static_cast<std::uint64_t>(*cursor - '0');
      quantity.fraction_scale *= 10;
      ++cursor;
    }
    if (cursor == digits) return std::nullopt;
  }
  quantity.unit = trim(std::string_view(cursor, static_cast<std::size_t>(end - cursor)));
  return quantity;
}

// quantity * multiplier, exact and without overflow, or empty.
std::optional<std::uint64_t> scale(const Quantity& quantity, std::uint64_t multiplier) {
  std::uint64_t whole = 0;
  if (__builtin_mul_overflow(quantity.whole, multiplier, &whole)) return std::nullopt;
  std::uint64_t fraction_part = 0;
  if (__builtin_mul_overflow(quantity.fraction, multiplier, &fraction_part)) return std::nullopt;
  if (fraction_part % quantity.fraction_scale != 0) return std::nullopt;
  std::uint64_t total = 0;
  if (__builtin_add_overflow(whole, fraction_part / quantity.fraction_scale, &total)) {
    return std::nullopt;
  }
  return total;
}

struct Unit {
  std::string_view name;
  std::uint64_t multiplier;
};

constexpr std::uint64_t kMsPerSecond = 1000;
constexpr std::array<Unit, 5> kDurationUnits{{
    {"d", 24 * 3600 * kMsPerSecond},
    {"h", 3600 * kMsPerSecond},
    {"m", 60 * kMsPerSecond},
    {"s", kMsPerSecond},
    {"ms", 1},
}};

constexpr std::uint64_t kKiB = 1024;
constexpr std::array<Unit, 10> kSizeUnits{{
    {"TiB", kKiB* kKiB* kKiB* kKiB},
    {"GiB", kKiB* kKiB* kKiB},
    {"MiB", kKiB* kKiB},
    {"KiB", kKiB},
    {"TB", 1000ull * 1000 * 1000 * 1000},
    {"GB", 1000ull * 1000 * 1000},
    {"MB", 1000ull * 1000},
    {"kB", 1000},
    {"B", 1},
    {"", 1},
}};

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  std::optional<Quantity> quantity = split_quantity(text);
  if (!quantity) return std::nullopt;
  std::uint64_t multiplier = 0;
  if (quantity->unit.empty()) {
    multiplier = kMsPerSecond;
  } else {
    for (const Unit& unit : kDurationUnits) {
      if (quantity->unit == unit.name) multiplier = unit.multiplier;
    }
  }
  if (multiplier == 0) return std::nullopt;
  std::optional<std::uint64_t> ms = scale(*quantity, multiplier);
  if (!ms || *ms > static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max())) {
    return std::nullopt;
  }
  return Duration(static_cast<Duration::rep>(*ms));
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::optional<Quantity> quantity = split_quantity(text);
  if (!quantity) return std::nullopt;
  for (const Unit& unit : kSizeUnits) {
    if (equals_ignoring_case(quantity->unit, unit.name)) return scale(*quantity, unit.multiplier);
  }
  return std::nullopt;
}

std::string format_duration(Duration duration) {
  std::uint64_t ms = static_cast<std::uint64_t>(duration.count());
  for (const Unit& unit : kDurationUnits) {
    if (ms != 0 && ms % unit.multiplier == 0) {
      return fmt::format("{}{}", ms / unit.multiplier, unit.name);
    }
  }
  return fmt::format("{}ms", ms);
}

std::string format_size(std::uint64_t bytes) {
  for (const Unit& unit : kSizeUnits) {
    if (unit.name.ends_with("iB") && bytes != 0 && bytes % unit.multiplier == 0) {
      return fmt::format("{}{}", bytes / unit.multiplier, unit.name);
    }
  }
  return fmt::format("{}B", bytes);
}

std::string format_number(double value) {
  std::string text = fmt::format("{:.2f}", value);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text == "-0" ? "0" : text;
}

}  // namespace ipctrail
