// Issue 14, "query for people": `query --with-limit`, times of day (`--since 19:15`), and `--step`
// summing the counts of a call chart, run as programs on real history files: one written tick by
// tick with the store at known times (exact answers), one written by the agent in a private IPC
// namespace.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "model/time_parse.h"
#include "model/time_text.h"
#include "storage/store.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/prometheus_support.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

constexpr std::int64_t kT0 = 1'795'662'000'000;  // 2026-11-26T03:00:00Z
constexpr std::uint64_t kKernelUnlimited = 18446744073692774399ULL;
const std::int64_t kPage = ::sysconf(_SC_PAGESIZE);

// One tick at kT0 + second s: arrays, semaphores, shared memory bytes, the semaphore calls of the
// tick, and the limits semmni, semmns and shmall.
struct TickValues {
  std::uint64_t arrays, semaphores, shm_bytes, semget_calls;
  std::uint64_t semmni, semmns, shmall;
};

TickRecord tick_at(int second, const TickValues& values) {
  TickRecord record;
  record.ts_ms = kT0 + second * 1000;
  record.interval_ms = 1000;
  record.charts.push_back(
      {Chart{chart_id::kSemaphoreArrays, "arrays", {{"arrays", values.arrays}}}, {}});
  record.charts.push_back(
      {Chart{chart_id::kSemaphores, "semaphores", {{"semaphores", values.semaphores}}}, {}});
  record.charts.push_back({Chart{chart_id::kShmBytes, "bytes", {{"bytes", values.shm_bytes}}}, {}});
  record.charts.push_back(
      {Chart{chart_id::kSemaphoreCalls, "calls", {{"semget", values.semget_calls}}}, {}});
  record.charts.push_back(
      {Chart{chart_id::kLimits,
             "limit",
             {{"semmni", values.semmni}, {"semmns", values.semmns}, {"shmall", values.shmall}}},
       {}});
  return record;
}

class QueryForPeople : public ::testing::Test {
 protected:
  // Six ticks, one a second from kT0: arrays 4 4 5 5 8 8 against semmni 10, raised to 20 at
  // second 3 while the arrays stay 5; semaphores 3 against a semmns of 0; shared memory one page
  // against shmall 2 pages, then the kernel's "unlimited" from second 3; semget calls 2 2 2 0 5 5.
  void SetUp() override {
    db_ = (scratch_.path() / "history.db").string();
    StoreOptions options;
    options.path = db_;
    Store store(options);
    const std::uint64_t arrays[] = {4, 4, 5, 5, 8, 8};
    const std::uint64_t calls[] = {2, 2, 2, 0, 5, 5};
    for (int second = 0; second < 6; ++second) {
      store.write_tick(
          tick_at(second, {arrays[second], 3, static_cast<std::uint64_t>(kPage), calls[second],
                           second < 3 ? 10u : 20u, 0, second < 3 ? 2 : kKernelUnlimited}));
    }
  }

  testing::CommandResult query(const std::string& arguments) {
    return testing::run_ipctrail("query " + arguments + " --db " + db_);
  }
  static std::string at(int second) { return iso8601_utc(kT0 + second * 1000); }

  testing::ScratchDirectory scratch_;
  std::string db_;
};

// A row at every change of the value and of the limit; each with the limit then and the share.
TEST_F(QueryForPeople, WithLimitShowsTheLimitInForceAtEachRowInEveryFormat) {
  std::string range = " --since " + at(0) + " --until " + at(5);
  testing::CommandResult json =
      query("--chart system.ipc_semaphore_arrays --with-limit --format json" + range);
  ASSERT_EQ(json.exit_code, 0) << json.output;
  nlohmann::json out = nlohmann::json::parse(json.output);
  EXPECT_EQ(out["limit_name"], "semmni");
  ASSERT_EQ(out["series"].size(), 1u);
  nlohmann::json expected = nlohmann::json::array({{kT0, 4, 10, 40.0},
                                                   {kT0 + 2000, 5, 10, 50.0},
                                                   {kT0 + 3000, 5, 20, 25.0},
                                                   {kT0 + 4000, 8, 20, 40.0}});
  EXPECT_EQ(out["series"][0]["points"], expected) << json.output;

  testing::CommandResult csv =
      query("--chart system.ipc_semaphore_arrays --with-limit --format csv" + range);
  ASSERT_EQ(csv.exit_code, 0) << csv.output;
  EXPECT_EQ(csv.output,
            "ts,time,chart,dimension,value,queue_key,owner_uid,limit,percent\n" +
                std::to_string(kT0) + "," + at(0) +
                ",system.ipc_semaphore_arrays,arrays,4,,,10,40\n" + std::to_string(kT0 + 2000) +
                "," + at(2) + ",system.ipc_semaphore_arrays,arrays,5,,,10,50\n" +
                std::to_string(kT0 + 3000) + "," + at(3) +
                ",system.ipc_semaphore_arrays,arrays,5,,,20,25\n" + std::to_string(kT0 + 4000) +
                "," + at(4) + ",system.ipc_semaphore_arrays,arrays,8,,,20,40\n");

  testing::CommandResult table = query("--chart system.ipc_semaphore_arrays --with-limit" + range);
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("limit  percent\n"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find(fmt::format("{:<26} {:<12} {:>20}", at(3), "arrays", 5)),
            std::string::npos)
      << table.output;
  EXPECT_NE(table.output.find("20     25.0\n"), std::string::npos) << table.output;

  // On a grid: the limit on the same grid.
  testing::CommandResult grid =
      query("--chart system.ipc_semaphore_arrays --with-limit --step 2s --format json" + range);
  ASSERT_EQ(grid.exit_code, 0) << grid.output;
  EXPECT_EQ(nlohmann::json::parse(grid.output)["series"][0]["points"],
            nlohmann::json::array(
                {{kT0, 4, 10, 40.0}, {kT0 + 2000, 5, 10, 50.0}, {kT0 + 4000, 8, 20, 40.0}}))
      << grid.output;

  // Without --with-limit nothing changes: two columns, the value's changes only.
  testing::CommandResult plain = query("--chart system.ipc_semaphore_arrays --format json" + range);
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_FALSE(nlohmann::json::parse(plain.output).contains("limit_name"));
  EXPECT_EQ(nlohmann::json::parse(plain.output)["series"][0]["points"],
            nlohmann::json::array({{kT0, 4}, {kT0 + 2000, 5}, {kT0 + 4000, 8}}));
}

// shmall counts pages; the chart bytes: the limit is converted with the page size. A limit of 0
// gives no percentage (the alert's UNDEFINED), the kernel's "unlimited" reads unlimited.
TEST_F(QueryForPeople, WithLimitConvertsPagesAndSaysUnlimitedAndUndefined) {
  std::string range = " --since " + at(0) + " --until " + at(5);
  testing::CommandResult shm =
      query("--chart system.shared_memory_bytes --with-limit --format json" + range);
  ASSERT_EQ(shm.exit_code, 0) << shm.output;
  nlohmann::json out = nlohmann::json::parse(shm.output);
  EXPECT_EQ(out["limit_name"], "shmall");
  EXPECT_EQ(out["series"][0]["points"],
            nlohmann::json::array(
                {{kT0, kPage, 2 * kPage, 50.0}, {kT0 + 3000, kPage, "unlimited", nullptr}}))
      << shm.output;
  testing::CommandResult shm_csv =
      query("--chart system.shared_memory_bytes --with-limit --format csv" + range);
  EXPECT_NE(shm_csv.output.find(",unlimited,\n"), std::string::npos) << shm_csv.output;

  testing::CommandResult zero =
      query("--chart system.ipc_semaphores --with-limit --format json" + range);
  ASSERT_EQ(zero.exit_code, 0) << zero.output;
  EXPECT_EQ(nlohmann::json::parse(zero.output)["series"][0]["points"],
            nlohmann::json::array({{kT0, 3, 0, nullptr}}))
      << zero.output;
}

// Charts without a limit of their own: one line naming the charts that have one, exit 2.
TEST_F(QueryForPeople, WithLimitOnAChartWithoutOneIsOneLineAndExitTwo) {
  const std::pair<std::string, std::string> cases[] = {
      {"system.message_queue_message", "msgmni does not bound"},
      {"system.message_queue_messages", "msgmni does not bound"},
      {"system.message_queue_bytes", "msg_qbytes"},
      {"system.ipc_semaphore_calls", "has no limit"},
      {"system.ipc_limits", "has no limit"},
  };
  for (const auto& [chart, reason] : cases) {
    testing::CommandResult result = query("--chart " + chart + " --with-limit");
    EXPECT_EQ(result.exit_code, 2) << chart << "\n" << result.output;
    EXPECT_NE(result.output.find(reason), std::string::npos) << result.output;
    EXPECT_NE(result.output.find("system.ipc_semaphore_arrays (semmni)"), std::string::npos)
        << result.output;
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
  }
}

// The call charts hold each tick's calls; --step adds them up over each step (not one tick's
// count sampled at the step's start), in every format; --rate divides by the sampled time.
TEST_F(QueryForPeople, StepSumsTheCallsOfEachStep) {
  std::string range = " --since " + at(0) + " --until " + at(5) + " --step 3s";
  testing::CommandResult json =
      query("--chart system.ipc_semaphore_calls --dimension semget --format json" + range);
  ASSERT_EQ(json.exit_code, 0) << json.output;
  nlohmann::json out = nlohmann::json::parse(json.output);
  EXPECT_EQ(out["values"], "sum");
  EXPECT_EQ(out["series"][0]["points"], nlohmann::json::array({{kT0, 6}, {kT0 + 3000, 10}}))
      << json.output;

  testing::CommandResult csv =
      query("--chart system.ipc_semaphore_calls --dimension semget --format csv" + range);
  ASSERT_EQ(csv.exit_code, 0) << csv.output;
  EXPECT_NE(csv.output.find(at(0) + ",system.ipc_semaphore_calls,semget,6,"), std::string::npos)
      << csv.output;
  EXPECT_NE(csv.output.find(at(3) + ",system.ipc_semaphore_calls,semget,10,"), std::string::npos)
      << csv.output;
  testing::CommandResult table =
      query("--chart system.ipc_semaphore_calls --dimension semget" + range);
  EXPECT_NE(table.output.find(fmt::format("{:<26} {:<12} {:>20}", at(3), "semget", 10)),
            std::string::npos)
      << table.output;

  testing::CommandResult rate =
      query("--chart system.ipc_semaphore_calls --dimension semget --rate --format json" + range);
  ASSERT_EQ(rate.exit_code, 0) << rate.output;
  EXPECT_EQ(nlohmann::json::parse(rate.output)["series"][0]["points"],
            nlohmann::json::array({{kT0, 2.0}, {kT0 + 3000, 10.0 / 3.0}}))
      << rate.output;
}

// Times of day are today's in UTC: a bad one is one line, exit 2.
TEST_F(QueryForPeople, TimesOfDayAreTodayAndBadOnesExitTwo) {
  auto today = [] {
    std::int64_t now = unix_now_ms();
    return now - now % 86'400'000;
  };
  std::int64_t before = today();
  testing::CommandResult json =
      query("--chart system.ipc_semaphores --since 00:00 --until 23:59:59.999 --format json");
  std::int64_t after = today();
  ASSERT_EQ(json.exit_code, 0) << json.output;
  std::int64_t since = nlohmann::json::parse(json.output)["since"];
  EXPECT_TRUE(since == before || since == after) << since;
  EXPECT_EQ(nlohmann::json::parse(json.output)["until"], since + 86'399'999);
  testing::CommandResult offset = query(
      "--chart system.ipc_semaphores --since 00:00Z --until 23:59:59.999+00:00 --format json");
  ASSERT_EQ(offset.exit_code, 0) << offset.output;
  EXPECT_EQ(nlohmann::json::parse(offset.output)["since"], since);

  testing::CommandResult bad = query("--chart system.ipc_semaphores --since 24:00");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.output,
            "ipctrail query: '24:00' is not a time; write now, -1h, -15m, 19:15 (today), "
            "2026-11-26T03:00:00Z or 2026-11-26 03:00 (UTC unless an offset like +02:00 is "
            "given)\n");
}

// The same on a file the agent wrote in a private namespace with semmni 10 and 4 arrays.
class QueryWithLimitOnTheAgentsFile : public testing::IpcNamespaceTest {};

TEST_F(QueryWithLimitOnTheAgentsFile, ArraysAgainstSemmni) {
  testing::ScratchDirectory scratch;
  std::string db = (scratch.path() / "history.db").string();
  set_kernel_value("sem", "250 1000 32 10");
  for (int i = 0; i < 4; ++i) create_semaphore_array(1);
  testing::CommandResult agent =
      testing::run_ipctrail("agent --interval 100ms --ticks 3 --db " + db);
  ASSERT_EQ(agent.exit_code, 0) << agent.output;
  testing::CommandResult csv = testing::run_ipctrail(
      "query --chart system.ipc_semaphore_arrays --with-limit --format csv --db " + db);
  ASSERT_EQ(csv.exit_code, 0) << csv.output;
  EXPECT_NE(csv.output.find(",system.ipc_semaphore_arrays,arrays,4,,,10,40\n"), std::string::npos)
      << csv.output;
  testing::CommandResult semaphores = testing::run_ipctrail(
      "query --chart system.ipc_semaphores --with-limit --format csv --db " + db);
  EXPECT_NE(semaphores.output.find(",system.ipc_semaphores,semaphores,4,,,1000,0.4\n"),
            std::string::npos)
      << semaphores.output;
}

}  // namespace
}  // namespace ipctrail
