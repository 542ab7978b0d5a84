// Counts between two readings, and how they show in the charts, the JSON contract and the table
// (rates, for people).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "agent/cli/report.h"
#include "model/charts.h"
#include "model/ipc_call_counts.h"

namespace ipctrail {
namespace {

TEST(IpcCallCounts, BetweenTwoReadingsAreTheirDifference) {
  IpcCallCounts earlier;
  earlier.calls_of(IpcCall::kSemget) = 10;
  earlier.failures_of(IpcCall::kSemget, ErrnoClass::kENOSPC) = 1;
  IpcCallCounts later = earlier;
  later.calls_of(IpcCall::kSemget) = 30;
  later.calls_of(IpcCall::kShmdt) = 5;
  later.failures_of(IpcCall::kSemget, ErrnoClass::kENOSPC) = 2;

  IpcCallCounts counts = ipc_calls_between(earlier, later);
  EXPECT_EQ(counts.calls_of(IpcCall::kSemget), 20u);
  EXPECT_EQ(counts.calls_of(IpcCall::kShmdt), 5u);
  EXPECT_EQ(counts.calls_of(IpcCall::kMsgsnd), 0u);
  EXPECT_EQ(counts.failures_of(IpcCall::kSemget, ErrnoClass::kENOSPC), 1u);
}

TEST(IpcCallCounts, ACounterOpenedAnewCountsFromZero) {
  IpcCallCounts earlier;
  earlier.calls_of(IpcCall::kMsgsnd) = 1000;
  IpcCallCounts later;
  later.calls_of(IpcCall::kMsgsnd) = 40;
  EXPECT_EQ(ipc_calls_between(earlier, later).calls_of(IpcCall::kMsgsnd), 40u);
}

TEST(IpcCallRates, AreCountsPerSecondOfTheirInterval) {
  IpcCallCounts counts;
  counts.calls_of(IpcCall::kSemget) = 20;
  counts.failures_of(IpcCall::kSemget, ErrnoClass::kENOSPC) = 1;
  IpcCallRates rates = ipc_call_rates(counts, std::chrono::seconds(10));
  EXPECT_DOUBLE_EQ(rates.calls_of(IpcCall::kSemget), 2.0);
  EXPECT_DOUBLE_EQ(rates.calls_of(IpcCall::kMsgsnd), 0.0);
  EXPECT_DOUBLE_EQ(rates.failures_of(IpcCall::kSemget, ErrnoClass::kENOSPC), 0.1);
  EXPECT_EQ(ipc_call_rates(counts, std::chrono::seconds(0)), IpcCallRates{});
}

Sample sample_with_calls() {
  Sample sample;
  sample.semaphore_arrays = 3;
  IpcCallActivity activity;
  activity.attach_mode = "tracepoint";
  activity.totals.calls_of(IpcCall::kSemget) = 12;
  activity.totals.calls_of(IpcCall::kMsgsnd) = 7;
  activity.totals.failures_of(IpcCall::kSemget, ErrnoClass::kENOSPC) = 2;
  activity.totals.failures_of(IpcCall::kMsgsnd, ErrnoClass::kOther) = 1;
  IpcCallInterval interval;  // the last 2 s
  interval.counts.calls_of(IpcCall::kSemget) = 3;
  interval.counts.calls_of(IpcCall::kMsgsnd) = 1;
  interval.counts.failures_of(IpcCall::kSemget, ErrnoClass::kENOSPC) = 1;
  interval.elapsed = std::chrono::seconds(2);
  activity.since_previous = interval;
  activity.syscall_tax = SyscallTax{200, 250};
  sample.ipc_calls = activity;
  return sample;
}

TEST(IpcCallChartView, FourChartsOfTheIntervalsCountsAfterTheCoreSix) {
  std::vector<Chart> charts = charts_of(sample_with_calls());
  ASSERT_EQ(charts.size(), 10u);
  EXPECT_EQ(charts[5].id, chart_id::kShmBytes);
  EXPECT_EQ(charts[6].id, "system.ipc_semaphore_calls");
  EXPECT_EQ(charts[7].id, "system.message_queue_calls");
  EXPECT_EQ(charts[8].id, "system.shared_memory_calls");
  EXPECT_EQ(charts[9].id, "system.ipc_call_errors");
  for (std::size_t chart = 6; chart < 10; ++chart) {
    EXPECT_EQ(charts[chart].units, "calls");
    EXPECT_TRUE(is_calls_per_tick(charts[chart].id));
  }
  EXPECT_FALSE(is_calls_per_tick(charts[0].id));

  std::vector<std::string> names;
  for (const Dimension& dimension : charts[6].dimensions) names.push_back(dimension.name);
  EXPECT_EQ(names, (std::vector<std::string>{"semget", "semop", "semtimedop", "semctl"}));
  EXPECT_EQ(std::get<std::uint64_t>(charts[6].dimensions[0].value), 3u);
  EXPECT_EQ(std::get<std::uint64_t>(charts[7].dimensions[1].value), 1u);
  EXPECT_EQ(charts[7].dimensions[1].name, "msgsnd");
  EXPECT_EQ(charts[8].dimensions.size(), 4u);

  // Only failures seen since counting started; a failure seen earlier stays, at 0 now.
  ASSERT_EQ(charts[9].dimensions.size(), 2u);
  EXPECT_EQ(charts[9].dimensions[0].name, "semget_ENOSPC");
  EXPECT_EQ(std::get<std::uint64_t>(charts[9].dimensions[0].value), 1u);
  EXPECT_EQ(charts[9].dimensions[1].name, "msgsnd_other");
  EXPECT_EQ(std::get<std::uint64_t>(charts[9].dimensions[1].value), 0u);
}

TEST(IpcCallChartView, NoIntervalNoCallCharts) {
  Sample sample = sample_with_calls();
  sample.ipc_calls->since_previous.reset();
  EXPECT_EQ(charts_of(sample).size(), 6u);
  sample.ipc_calls.reset();
  EXPECT_EQ(charts_of(sample).size(), 6u);
}

TEST(IpcCallChartView, JsonHasIntegerCountsAndTheirWindow) {
  nlohmann::json json = nlohmann::json::parse(sample_to_json(sample_with_calls()));
  const auto& charts = json["charts"];
  EXPECT_TRUE(charts["system.ipc_semaphore_arrays"]["dimensions"]["arrays"].is_number_integer());
  EXPECT_NE(json.dump().find(R"("arrays":3})"), std::string::npos) << json.dump();
  EXPECT_TRUE(charts["system.ipc_semaphore_calls"]["dimensions"]["semop"].is_number_integer());
  EXPECT_EQ(charts["system.ipc_call_errors"]["dimensions"]["semget_ENOSPC"], 1);
  EXPECT_EQ(json["ipc_calls"]["window_ms"], 2000);
  EXPECT_EQ(json["ipc_calls"]["attach_mode"], "tracepoint");
  EXPECT_EQ(json["ipc_calls"]["calls_total"]["semget"], 12);
  EXPECT_EQ(json["ipc_calls"]["calls_total"]["shmctl"], 0);
  EXPECT_EQ(json["ipc_calls"]["failures_total"],
            (nlohmann::json{{"semget_ENOSPC", 2}, {"msgsnd_other", 1}}));
  EXPECT_EQ(json["ipc_calls"]["syscall_tax"],
            (nlohmann::json{{"before_ns", 200}, {"after_ns", 250}, {"ratio", 0.25}}));

  Sample without_bpf;
  EXPECT_FALSE(nlohmann::json::parse(sample_to_json(without_bpf)).contains("ipc_calls"));
}

TEST(IpcCallChartView, TableShowsRatesTotalsAndFailures) {
  std::string table = sample_to_table(sample_with_calls());
  EXPECT_NE(table.find("IPC system calls (counted with BPF, tracepoint)"), std::string::npos)
      << table;
  EXPECT_NE(table.find("attaching cost unrelated syscalls: 200 ns -> 250 ns (+25%)"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("semget                     1.50             12"), std::string::npos)
      << table;
  EXPECT_NE(table.find("semget ENOSPC              0.50              2"), std::string::npos)
      << table;
}

}  // namespace
}  // namespace ipctrail
