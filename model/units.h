// Durations and sizes as people write them in the config file and on the command line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "model/settings.h"

namespace ipctrail {

// "100ms", "1s", "10s", "5m", "1h", "30d"; a plain number is seconds; decimals allowed
// ("1.5s") as long as the result is whole milliseconds. Empty on anything else, or negative.
std::optional<Duration> parse_duration(std::string_view text);

// "1GiB", "512MiB", "64KiB" (powers of 1024), "1GB", "10MB", "1kB" (powers of 1000), "4096" or
// "4096B" (bytes); units are case-insensitive. Empty on anything else, negative, or overflow.
std::optional<std::uint64_t> parse_size(std::string_view text);

// The shortest exact spelling: 90000ms -> "90s", 30 days -> "30d", 1500ms -> "1500ms".
std::string format_duration(Duration duration);
// The largest exact binary unit: 1073741824 -> "1GiB", 1000 -> "1000B".
std::string format_size(std::uint64_t bytes);
// A percentage or threshold with at most two decimals and no trailing zeros: "80", "81.25".
std::string format_number(double value);

}  // namespace ipctrail
