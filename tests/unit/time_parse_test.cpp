#include "model/time_parse.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace ipctrail {
namespace {

constexpr std::int64_t kNow = 1'795'000'000'000;

TEST(TimeParse, Durations) {
  EXPECT_EQ(parse_positive_duration("1s").count(), 1000);
  EXPECT_EQ(parse_positive_duration("500ms").count(), 500);
  EXPECT_EQ(parse_positive_duration("2d").count(), 172'800'000);
  EXPECT_THROW(parse_positive_duration("0s"), TimeTextError);
  EXPECT_THROW(parse_positive_duration("fast"), TimeTextError);
  EXPECT_THROW(parse_positive_duration(""), TimeTextError);
}

TEST(TimeParse, RelativeTimes) {
  EXPECT_EQ(parse_time("now", kNow), kNow);
  EXPECT_EQ(parse_time("-1h", kNow), kNow - 3'600'000);
  EXPECT_EQ(parse_time("-15m", kNow), kNow - 900'000);
  EXPECT_EQ(parse_time("-90s", kNow), kNow - 90'000);
}

TEST(TimeParse, AbsoluteTimesAreUtcUnlessTheySayOtherwise) {
  EXPECT_EQ(parse_time("2026-11-26T03:00:00Z", kNow), 1'795'662'000'000);
  EXPECT_EQ(parse_time("2026-11-26 03:00", kNow), 1'795'662'000'000);
  EXPECT_EQ(parse_time("2026-11-26T03:00:00.250Z", kNow), 1'795'662'000'250);
  EXPECT_EQ(parse_time("2026-11-26T05:00:00+02:00", kNow), 1'795'662'000'000);
  EXPECT_EQ(parse_time("2026-11-26", kNow), 1'795'651'200'000);
}

// Issue 14: a time of day is today's, in UTC or in the zone its offset names; kNow is
// 2026-11-18T11:06:40Z.
TEST(TimeParse, TimesOfDayAreToday) {
  constexpr std::int64_t kMidnight = 1'794'960'000'000;  // 2026-11-18T00:00:00Z
  EXPECT_EQ(parse_time("2026-11-18", kNow), kMidnight);
  EXPECT_EQ(parse_time("09:15", kNow), kMidnight + 33'300'000);
  EXPECT_EQ(parse_time("09:15:30", kNow), kMidnight + 33'330'000);
  EXPECT_EQ(parse_time("09:15:30.250", kNow), kMidnight + 33'330'250);
  EXPECT_EQ(parse_time("09:15:30Z", kNow), kMidnight + 33'330'000);
  EXPECT_EQ(parse_time("00:00", kNow), kMidnight);
  EXPECT_EQ(parse_time("23:59:59.999", kNow), kMidnight + 86'399'999);
  // Later than now is still today: a demanding user's "19:15" is not yesterday's.
  EXPECT_EQ(parse_time("19:15", kNow), kMidnight + 69'300'000);
  EXPECT_GT(parse_time("19:15", kNow), kNow);
  // With an offset: that clock time on the date it is now in that zone.
  EXPECT_EQ(parse_time("11:15+02:00", kNow), kMidnight + 33'300'000);
  EXPECT_EQ(parse_time("11:15+0200", kNow), kMidnight + 33'300'000);
  EXPECT_EQ(parse_time("03:15-06:00", kNow), kMidnight + 33'300'000);
  // 11:06 UTC is already the 19th at +14:00, and still the 17th at -12:00.
  EXPECT_EQ(parse_time("01:00+14:00", kNow), kMidnight + 39'600'000);
  EXPECT_EQ(parse_time("23:00-12:00", kNow), kMidnight + 39'600'000);
  // At midnight UTC exactly, today is the day that starts then.
  EXPECT_EQ(parse_time("00:00", kMidnight), kMidnight);
  EXPECT_EQ(parse_time("23:59", kMidnight - 1), kMidnight - 60'000);
}

TEST(TimeParse, TimesOfDayRefuseWhatIsNotOne) {
  for (const char* text :
       {"24:00", "19:60", "9:15", "19:5", "19", "19:15:", "19:15:3", "19:15.5", "19:15:30.",
        "19:15+2", "19:15+24:00", "19:15 ", " 19:15", "19:15Z+01:00", "T19:15", "19h15"}) {
    EXPECT_THROW(parse_time(text, kNow), TimeTextError) << text;
  }
}

// A "now" outside the range of times (only a test or a fuzzer makes one) gives a time outside it.
TEST(TimeParse, TimesOfDayNearTheEndsOfTheRange) {
  EXPECT_EQ(parse_time("00:00", 0), 0);
  EXPECT_EQ(parse_time("23:59:59.999", kLatestTimeMs), kLatestTimeMs);
  for (std::int64_t now : {std::int64_t{-1}, INT64_MIN, INT64_MAX, kLatestTimeMs + 1}) {
    EXPECT_THROW(parse_time("12:00", now), TimeTextError) << now;
  }
  EXPECT_THROW(parse_time("12:00+14:00", INT64_MIN), TimeTextError);
  EXPECT_THROW(parse_time("12:00-14:00", INT64_MAX), TimeTextError);
  EXPECT_THROW(parse_time("00:30+01:00", 0), TimeTextError);
}

TEST(TimeParse, RejectsWhatItCannotRead) {
  for (const char* text :
       {"yesterday", "2026-13-01", "2026-11-26T25:00", "2026-11-26 03", "-1x", "2026-02-30", ""}) {
    EXPECT_THROW(parse_time(text, kNow), TimeTextError) << text;
  }
}

// Times are unix milliseconds from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z: every
// difference of two of them, and every step across them, fits easily in 64 bits.
TEST(TimeParse, AcceptsTheWholeRangeOfTimes) {
  EXPECT_EQ(parse_time("1970-01-01", kNow), 0);
  EXPECT_EQ(parse_time("1970-01-01T01:00+01:00", kNow), 0);
  EXPECT_EQ(parse_time("9999-12-31T23:59:59.999Z", kNow), 253'402'300'799'999);
  EXPECT_EQ(parse_time("-" + std::to_string(kNow) + "ms", kNow), 0);
}

TEST(TimeParse, RefusesTimesOutsideTheRangeNamingIt) {
  for (const std::string text :
       {"-106751991167d", "-9223372036854775807ms", "-1795000000001ms", "1969-12-31T23:59:59Z",
        "0000-01-01", "1970-01-01T00:30+01:00", "9999-12-31T23:00-01:00"}) {
    try {
      std::int64_t when = parse_time(text, kNow);
      ADD_FAILURE() << text << " gave " << when;
    } catch (const TimeTextError& error) {
      EXPECT_EQ(std::string(error.what()),
                "'" + text +
                    "' is out of range: times go from 1970-01-01T00:00:00Z to "
                    "9999-12-31T23:59:59.999Z")
          << text;
    }
  }
}

TEST(TimeParse, DurationsAreWholeMillisecondsThatFitIn64Bits) {
  EXPECT_EQ(parse_positive_duration("9223372036854775807ms").count(), INT64_MAX);
  EXPECT_EQ(parse_positive_duration("106751991167d").count(), 106'751'991'167 * 86'400'000);
  for (const char* text : {"9223372036854775808ms", "106751991168d", "2562047788016h",
                           "153722867280913m", "9223372036854776s", "18446744073709551616ms",
                           "99999999999999999999999d", "0.5ms", "-1s"}) {
    EXPECT_THROW(parse_positive_duration(text), TimeTextError) << text;
  }
}

}  // namespace
}  // namespace ipctrail
