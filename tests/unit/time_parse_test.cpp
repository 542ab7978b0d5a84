#include "model/time_parse.h"

#include <gtest/gtest.h>

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

TEST(TimeParse, RejectsWhatItCannotRead) {
  for (const char* text :
       {"yesterday", "2026-13-01", "2026-11-26T25:00", "2026-11-26 03", "-1x", "2026-02-30", ""}) {
    EXPECT_THROW(parse_time(text, kNow), TimeTextError) << text;
  }
}

}  // namespace
}  // namespace ipctrail
