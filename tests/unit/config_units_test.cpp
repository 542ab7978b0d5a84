// Durations, sizes and "did you mean" as the config file and the flags spell them.
#include <gtest/gtest.h>

#include "config/suggest.h"
#include "model/units.h"

namespace ipctrail {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(ParseDuration, AcceptsTheUsualUnits) {
  EXPECT_EQ(parse_duration("100ms"), milliseconds(100));
  EXPECT_EQ(parse_duration("1s"), seconds(1));
  EXPECT_EQ(parse_duration("10s"), seconds(10));
  EXPECT_EQ(parse_duration("5m"), minutes(5));
  EXPECT_EQ(parse_duration("1h"), hours(1));
  EXPECT_EQ(parse_duration("30d"), hours(24 * 30));
  EXPECT_EQ(parse_duration(" 2s "), seconds(2));
}

TEST(ParseDuration, PlainNumbersAreSeconds) {
  EXPECT_EQ(parse_duration("1"), seconds(1));
  EXPECT_EQ(parse_duration("60"), seconds(60));
  EXPECT_EQ(parse_duration("0.5"), milliseconds(500));
  EXPECT_EQ(parse_duration("1.25s"), milliseconds(1250));
}

TEST(ParseDuration, RejectsEverythingElse) {
  for (const char* bad : {"", "s", "-1s", "1 sec", "10x", "1S", "1.s", ".5s", "0.0001s", "1e3",
                          "1s2", "99999999999999999999d", "1000000000000d"}) {
    EXPECT_EQ(parse_duration(bad), std::nullopt) << bad;
  }
}

// Every unit up to the last millisecond count that fits in 64 bits, and one past it; a fraction
// whose scaling overflows is refused too, never wrapped.
TEST(ParseDuration, RejectsMillisecondCountsThatOverflow) {
  constexpr auto kMax = Duration::max();
  EXPECT_EQ(parse_duration("9223372036854775807ms"), kMax);
  EXPECT_EQ(parse_duration("106751991167d"), milliseconds(106'751'991'167LL * 86'400'000));
  EXPECT_EQ(parse_duration("9223372036854775.807s"), kMax);
  for (const char* bad :
       {"9223372036854775808ms", "18446744073709551615ms", "18446744073709551616ms",
        "106751991168d", "2562047788016h", "153722867280913m", "9223372036854776s",
        "9223372036854776", "9223372036854775.808s", "213503982334.6d", "0.99999999999999999999d",
        "1.0000000000000000001s"}) {
    EXPECT_EQ(parse_duration(bad), std::nullopt) << bad;
  }
}

TEST(ParseSize, AcceptsBinaryAndDecimalUnits) {
  EXPECT_EQ(parse_size("1GiB"), 1073741824u);
  EXPECT_EQ(parse_size("512MiB"), 536870912u);
  EXPECT_EQ(parse_size("64KiB"), 65536u);
  EXPECT_EQ(parse_size("2TiB"), 2199023255552u);
  EXPECT_EQ(parse_size("1GB"), 1000000000u);
  EXPECT_EQ(parse_size("10MB"), 10000000u);
  EXPECT_EQ(parse_size("1kB"), 1000u);
  EXPECT_EQ(parse_size("1gib"), 1073741824u);
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("4096B"), 4096u);
  EXPECT_EQ(parse_size("1.5GiB"), 1610612736u);
}

TEST(ParseSize, RejectsEverythingElse) {
  for (const char* bad : {"", "GiB", "-1GiB", "1 gigabyte", "1Gb2", "0.3B", "100000000TiB"}) {
    EXPECT_EQ(parse_size(bad), std::nullopt) << bad;
  }
}

TEST(Format, RoundTripsTheShortestSpelling) {
  EXPECT_EQ(format_duration(milliseconds(100)), "100ms");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(format_duration(seconds(90)), "90s");
  EXPECT_EQ(format_duration(minutes(5)), "5m");
  EXPECT_EQ(format_duration(hours(24 * 30)), "30d");
  EXPECT_EQ(format_size(1073741824u), "1GiB");
  EXPECT_EQ(format_size(1000u), "1000B");
  EXPECT_EQ(format_size(3u << 20), "3MiB");
  EXPECT_EQ(format_number(80), "80");
  EXPECT_EQ(format_number(81.25), "81.25");
  EXPECT_EQ(format_number(100.0 / 3), "33.33");
  for (const char* text : {"100ms", "10s", "5m", "1h", "30d"}) {
    EXPECT_EQ(format_duration(*parse_duration(text)), text);
  }
}

TEST(Suggest, EditDistance) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("warn", "warn"), 0u);
  EXPECT_EQ(edit_distance("wran", "warn"), 2u);
  EXPECT_EQ(edit_distance("semaphore", "semaphores"), 1u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
}

TEST(Suggest, ClosestMatchOnlyWhenLikelyATypo) {
  std::vector<std::string> keys{"enabled", "every", "warn", "warn_clear", "crit", "crit_clear"};
  EXPECT_EQ(closest_match("warn_clr", keys), "warn_clear");
  EXPECT_EQ(closest_match("wrn", keys), "warn");
  EXPECT_EQ(closest_match("enable", keys), "enabled");
  EXPECT_EQ(closest_match("threshold", keys), std::nullopt);
  std::vector<std::string> alerts{"semaphores_used", "semaphore_arrays_used"};
  EXPECT_EQ(closest_match("semaphore_used", alerts), "semaphores_used");
  EXPECT_EQ(closest_match("semaphore_array_used", alerts), "semaphore_arrays_used");
}

}  // namespace
}  // namespace ipctrail
