// The analysis of `ipctrail report` over a real history file written by storage's Store: a
// scripted semaphore-array leak (tests/support/incident_history.h) whose every fact is known.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "report/plot.h"
#include "report/report.h"
#include "storage/history_file_error.h"
#include "tests/support/incident_history.h"
#include "tests/support/prometheus_support.h"

namespace ipctrail {
namespace {

using testing::kIncidentStart;

constexpr std::int64_t at(std::int64_t second) {
  return kIncidentStart + second * 1000;
}

class ReportAnalysis : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_incident_history(path_); }

  Report analyse(std::int64_t since_ms, std::int64_t until_ms) {
    HistoryReader reader(path_);
    return analyse_history(reader, path_.string(), since_ms, until_ms);
  }

  static const ResourceReport& resource(const Report& report, const std::string& id) {
    auto found = std::find_if(report.resources.begin(), report.resources.end(),
                              [&](const ResourceReport& r) { return r.id == id; });
    if (found == report.resources.end()) throw std::runtime_error("no resource " + id);
    return *found;
  }

  testing::ScratchDirectory scratch_;
  std::filesystem::path path_ = scratch_.path() / "history.db";
};

TEST_F(ReportAnalysis, CoverageNamesTheSpansAndTheGap) {
  Report report = analyse(at(0), at(401));
  ASSERT_EQ(report.coverage.spans.size(), 2u);
  EXPECT_EQ(report.coverage.spans[0].start_ms, at(0));
  EXPECT_EQ(report.coverage.spans[0].last_ms, at(199));
  EXPECT_EQ(report.coverage.spans[1].start_ms, at(220));
  ASSERT_EQ(report.coverage.gaps.size(), 1u);
  EXPECT_EQ(report.coverage.gaps[0].from_ms, at(200));
  EXPECT_EQ(report.coverage.gaps[0].to_ms, at(220));
  EXPECT_EQ(report.coverage.sampled_ms, 381'000);
}

TEST_F(ReportAnalysis, ArraysStartPeakLimitReachedGrowthAndFastestMinute) {
  Report report = analyse(at(0), at(300));
  const ResourceReport& arrays = resource(report, "arrays");
  EXPECT_EQ(arrays.limit_name, "semmni");
  EXPECT_EQ(arrays.start, 0.0);
  EXPECT_EQ(arrays.end, 10.0);
  EXPECT_EQ(arrays.peak, 10.0);
  EXPECT_EQ(arrays.peak_ms, at(160));
  EXPECT_EQ(arrays.limit, 10.0);
  EXPECT_DOUBLE_EQ(*arrays.peak_percent, 100.0);
  EXPECT_EQ(arrays.limit_reached_ms, at(160));
  EXPECT_EQ(arrays.growth_started_ms, at(70));
  EXPECT_EQ(arrays.fastest_growth_per_minute, 6.0);
  EXPECT_EQ(arrays.fastest_growth_ms, at(120));

  const ResourceReport& semaphores = resource(report, "semaphores");
  EXPECT_EQ(semaphores.limit, 32000.0);
  EXPECT_FALSE(semaphores.limit_reached_ms);
}

TEST_F(ReportAnalysis, QueueTotalsKeepTheOneTickSpikeAndNameTheFullestQueue) {
  Report report = analyse(at(0), at(300));
  const ResourceReport& bytes = resource(report, "queued_bytes");
  EXPECT_EQ(bytes.start, 110.0);
  EXPECT_EQ(bytes.peak, 4010.0);
  EXPECT_EQ(bytes.peak_ms, at(100));
  EXPECT_TRUE(bytes.limit_name.empty());
  EXPECT_EQ(resource(report, "queues").peak, 2.0);
  EXPECT_EQ(resource(report, "queued_messages").peak, 41.0);
  ASSERT_EQ(report.fullest_queues.size(), 2u);
  EXPECT_EQ(report.fullest_queues[0].msqid, "7");
  EXPECT_EQ(report.fullest_queues[0].key, 0x1234);
  EXPECT_EQ(report.fullest_queues[0].peak_bytes, 4000.0);
  EXPECT_EQ(report.fullest_queues[0].peak_ms, at(100));
  EXPECT_EQ(report.fullest_queues[0].end_bytes, 100.0);
  EXPECT_EQ(report.fullest_queues[0].capacity, 16384.0);
}

TEST_F(ReportAnalysis, AnUnlimitedShmallIsNoLimit) {
  Report report = analyse(at(0), at(300));
  EXPECT_FALSE(resource(report, "shm_pages").limit);
  EXPECT_FALSE(resource(report, "shm_pages").peak_percent);
  EXPECT_EQ(resource(report, "segments").limit, 4096.0);
}

TEST_F(ReportAnalysis, FailuresAreCountedExactlyWithFirstAndLast) {
  Report report = analyse(at(0), at(300));
  EXPECT_TRUE(report.calls_recorded);
  ASSERT_EQ(report.failures.size(), 1u);
  EXPECT_EQ(report.failures[0].call, "semget");
  EXPECT_EQ(report.failures[0].error, "ENOSPC");
  EXPECT_EQ(report.failures[0].count, testing::kIncidentFailures);
  EXPECT_EQ(report.failures[0].first_ms, at(161));
  EXPECT_EQ(report.failures[0].last_ms, at(163));
  EXPECT_FALSE(report.per_process_recorded);
}

TEST_F(ReportAnalysis, RaisesCarryTheirLeadTimeBeforeTheFirstFailure) {
  Report report = analyse(at(0), at(300));
  ASSERT_EQ(report.transitions.size(), 3u);
  EXPECT_FALSE(report.transitions[0].lead_ms);  // to CLEAR
  EXPECT_EQ(report.transitions[1].record.new_status, AlertStatus::kWarning);
  EXPECT_EQ(report.transitions[1].resource, "arrays");
  EXPECT_EQ(report.transitions[1].first_failure, "semget_ENOSPC");
  EXPECT_EQ(report.transitions[1].lead_ms, 11'000);
  EXPECT_EQ(report.transitions[2].lead_ms, 1'000);
  ASSERT_EQ(report.bands.size(), 2u);
  EXPECT_EQ(report.bands[0].status, AlertStatus::kWarning);
  EXPECT_EQ(report.bands[0].from_ms, at(150));
  EXPECT_EQ(report.bands[0].to_ms, at(160));
  EXPECT_EQ(report.bands[1].status, AlertStatus::kCritical);
  EXPECT_EQ(report.bands[1].to_ms, at(300));
}

TEST_F(ReportAnalysis, AWindowStartingWhileRaisedHasItsBandFromTheStart) {
  Report report = analyse(at(170), at(300));
  EXPECT_TRUE(report.transitions.empty());
  ASSERT_EQ(report.bands.size(), 1u);
  EXPECT_EQ(report.bands[0].status, AlertStatus::kCritical);
  EXPECT_EQ(report.bands[0].from_ms, at(170));
}

TEST_F(ReportAnalysis, StillHappeningWhileFailingAndNotAMinuteAfter) {
  Report during = analyse(at(0), at(163));
  EXPECT_TRUE(during.still_happening.yes());
  ASSERT_EQ(during.still_happening.failing.size(), 1u);
  EXPECT_EQ(during.still_happening.failing[0].second, 3);
  EXPECT_NE(std::find(during.still_happening.growing.begin(), during.still_happening.growing.end(),
                      "arrays"),
            during.still_happening.growing.end());

  Report after = analyse(at(0), at(300));
  EXPECT_FALSE(after.still_happening.yes());
  EXPECT_TRUE(after.still_happening.sampled);
}

TEST_F(ReportAnalysis, AnEmptyOrUnsampledWindowIsRefused) {
  EXPECT_THROW(analyse(at(100), at(100)), ReportError);
  EXPECT_THROW(analyse(at(300), at(100)), ReportError);
  EXPECT_THROW(analyse(at(1000), at(2000)), ReportError);  // after the file
  EXPECT_THROW(analyse(at(-500), at(-100)), ReportError);  // before it
  EXPECT_THROW(analyse(at(201), at(219)), ReportError);    // inside the gap
}

TEST_F(ReportAnalysis, AForeignFileIsAHistoryFileError) {
  std::filesystem::path foreign = scratch_.path() / "foreign.db";
  { std::ofstream(foreign) << "not a database at all"; }
  EXPECT_THROW(HistoryReader{foreign}, HistoryFileError);
}

TEST(ReportPlot, MinMaxColumnsKeepAOneSecondSpikeInADay) {
  constexpr std::int64_t kDay = 86'400'000;
  std::vector<Level> levels;
  for (std::int64_t second = 0; second < 86'400; ++second) {
    levels.push_back({second * 1000, second == 43'210 ? 500.0 : 5.0});
  }
  std::vector<PlotColumn> columns = min_max_columns(levels, 0, kDay, 760);
  ASSERT_EQ(columns.size(), 760u);
  double highest = 0;
  std::size_t spike_column = 0;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    ASSERT_TRUE(columns[i].max) << i;
    EXPECT_EQ(*columns[i].min, 5.0) << i;
    if (*columns[i].max > highest) {
      highest = *columns[i].max;
      spike_column = i;
    }
  }
  EXPECT_EQ(highest, 500.0);
  EXPECT_EQ(spike_column, static_cast<std::size_t>(43'210'000LL * 760 / kDay));
}

TEST(ReportPlot, UnknownStretchesStayEmptyAndAValueHeldAcrossColumnsFillsThem) {
  std::vector<Level> levels = {{0, 1.0}, {500, std::nullopt}, {700, 3.0}};
  std::vector<PlotColumn> columns = min_max_columns(levels, 0, 1000, 10);
  EXPECT_EQ(columns[0].max, 1.0);
  EXPECT_EQ(columns[4].max, 1.0);
  EXPECT_FALSE(columns[5].max);
  EXPECT_FALSE(columns[6].max);
  EXPECT_EQ(columns[7].min, 3.0);
  EXPECT_EQ(columns[9].max, 3.0);
}

TEST(ReportPlot, FailureSumsPerColumnLoseNoCount) {
  std::vector<CountRun> runs = {{0, 9000, 2, 10}, {9999, 9999, 5, 1}};
  // Ticks at 0, 1000, ... 9000 s: four in [0, 3333), three in each later column; the tick at
  // the window's end belongs to the last column.
  EXPECT_EQ(sums_per_column(runs, 0, 10'000, 3), (std::vector<std::int64_t>{8, 6, 11}));
}

}  // namespace
}  // namespace ipctrail
