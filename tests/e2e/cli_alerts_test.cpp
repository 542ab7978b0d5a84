// `ipctrail alerts` and the alert states of `ipctrail at`, run as programs on a history file
// written through Store with known transitions, relative to now.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "model/time_parse.h"
#include "model/time_text.h"
#include "storage/store.h"
#include "tests/support/alert_transition_support.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

namespace fs = std::filesystem;
using testing::transition;

constexpr std::int64_t kHour = 3'600'000;
constexpr const char* kSemaphores = "semaphores_used";
constexpr const char* kQueueBytes = "message_queue_bytes_used";
constexpr const char* kSemaphoreChart = "system.ipc_semaphores";
constexpr const char* kQueueChart = "system.message_queue_bytes";

std::size_t lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// History: semaphores went WARNING 30 h ago, CLEAR 3 h ago, WARNING again 1 h ago; queue 7
// went WARNING 2 h ago then CRITICAL, queue 9 WARNING 2 h ago and REMOVED 30 min ago.
class CliAlerts : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ipctrail-cli-alerts-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    db_ = (dir_ / "history.db").string();
    now_ = unix_now_ms();
    StoreOptions options;
    options.path = db_;
    Store store(options);
    write(store, now_ - 30 * kHour,
          {transition(now_ - 30 * kHour, kSemaphores, kSemaphoreChart, "",
                      AlertStatus::kUninitialized, AlertStatus::kWarning, 90.0,
                      "9 of 10 semaphore arrays in use (90% of semmni)")});
    write(
        store, now_ - 3 * kHour,
        {transition(now_ - 3 * kHour, kSemaphores, kSemaphoreChart, "", AlertStatus::kWarning,
                    AlertStatus::kClear, 60.0, "6 of 10 semaphore arrays in use (60% of semmni)")});
    write(store, now_ - 2 * kHour,
          {transition(now_ - 2 * kHour, kQueueBytes, kQueueChart, "7", AlertStatus::kClear,
                      AlertStatus::kWarning, 85.0, "queue 7: 8500 of 10000 bytes, \"hot\""),
           transition(now_ - 2 * kHour, kQueueBytes, kQueueChart, "9", AlertStatus::kClear,
                      AlertStatus::kWarning, 81.0, "queue 9: 81%")});
    write(store, now_ - 2 * kHour + 1000,
          {transition(now_ - 2 * kHour + 1000, kQueueBytes, kQueueChart, "7", AlertStatus::kWarning,
                      AlertStatus::kCritical, 97.0, "queue 7: 97%")});
    write(store, now_ - kHour,
          {transition(now_ - kHour, kSemaphores, kSemaphoreChart, "", AlertStatus::kClear,
                      AlertStatus::kWarning, 90.0, "9 of 10 semaphore arrays in use")});
    write(store, now_ - kHour / 2,
          {transition(now_ - kHour / 2, kQueueBytes, kQueueChart, "9", AlertStatus::kWarning,
                      AlertStatus::kRemoved, std::nullopt, "queue 9 removed")});
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void write(Store& store, std::int64_t ts, std::vector<AlertTransition> transitions) {
    TickRecord record;
    record.ts_ms = ts;
    record.interval_ms = 1000;
    record.charts.push_back(
        {Chart{"system.ipc_semaphores", "semaphores", {{"semaphores", std::uint64_t{1}}}}, {}});
    record.alert_transitions = std::move(transitions);
    store.write_tick(record);
  }

  testing::CommandResult run(const std::string& arguments) {
    return testing::run_ipctrail(arguments + " --db " + db_);
  }

  fs::path dir_;
  std::string db_;
  std::int64_t now_ = 0;
};

TEST_F(CliAlerts, ListsTheLastDaysTransitionsOldestFirst) {
  testing::CommandResult json = run("alerts --format json");
  ASSERT_EQ(json.exit_code, 0) << json.output;
  nlohmann::json out = nlohmann::json::parse(json.output);
  const nlohmann::json& rows = out["transitions"];
  ASSERT_EQ(rows.size(), 6u) << json.output;  // the one 30 h ago is before the default -24h
  EXPECT_EQ(rows[0]["ts"], now_ - 3 * kHour);
  EXPECT_EQ(rows[0]["time"], iso8601_utc(now_ - 3 * kHour));
  EXPECT_EQ(rows[0]["old_status"], "WARNING");
  EXPECT_EQ(rows[0]["new_status"], "CLEAR");
  EXPECT_EQ(rows[0]["new_status_code"], 1);
  EXPECT_EQ(rows[0]["new_value"], 60.0);
  EXPECT_EQ(rows[0]["warn"], 80.0);
  EXPECT_TRUE(rows[0]["crit"].is_null());
  EXPECT_EQ(rows[0]["instance"], "");
  EXPECT_EQ(rows[3]["new_status"], "CRITICAL");
  EXPECT_EQ(rows[4]["chart"], "system.ipc_semaphores");
  EXPECT_EQ(rows[5]["instance"], "9");
  EXPECT_EQ(rows[5]["new_status"], "REMOVED");
  EXPECT_TRUE(rows[5]["new_value"].is_null());

  testing::CommandResult all = run("alerts --since -2d --format csv");
  ASSERT_EQ(all.exit_code, 0) << all.output;
  EXPECT_EQ(lines(all.output), 1u + 7u) << all.output;
  EXPECT_EQ(all.output.rfind("ts,time,alert,chart,instance,old_status,new_status,old_value,"
                             "new_value,warn,crit,summary\n",
                             0),
            0u);
  EXPECT_NE(all.output.find(",semaphores_used,system.ipc_semaphores,,UNINITIALIZED,WARNING,,90,80,,"
                            "9 of 10 semaphore arrays in use (90% of semmni)\n"),
            std::string::npos)
      << all.output;
  EXPECT_NE(all.output.find(",7,CLEAR,WARNING,,85,80,,\"queue 7: 8500 of 10000 bytes, "
                            "\"\"hot\"\"\"\n"),
            std::string::npos)
      << all.output;

  testing::CommandResult recent = run("alerts --since -90m");
  ASSERT_EQ(recent.exit_code, 0) << recent.output;
  EXPECT_EQ(lines(recent.output), 1u + 2u) << recent.output;
  EXPECT_NE(recent.output.find("CLEAR -> WARNING"), std::string::npos) << recent.output;
  EXPECT_NE(recent.output.find("WARNING -> REMOVED"), std::string::npos) << recent.output;
  EXPECT_LT(recent.output.find("semaphores_used"), recent.output.find("queue 9 removed"));
}

TEST_F(CliAlerts, ActiveListsTheRaisedStateOfEachInstance) {
  testing::CommandResult json = run("alerts --active --format json");
  ASSERT_EQ(json.exit_code, 0) << json.output;
  nlohmann::json active = nlohmann::json::parse(json.output)["active"];
  ASSERT_EQ(active.size(), 2u) << json.output;
  EXPECT_EQ(active[0]["alert"], "message_queue_bytes_used");
  EXPECT_EQ(active[0]["instance"], "7");
  EXPECT_EQ(active[0]["status"], "CRITICAL");
  EXPECT_EQ(active[0]["status_code"], 4);
  EXPECT_EQ(active[0]["since"], now_ - 2 * kHour + 1000);
  EXPECT_EQ(active[1]["alert"], "semaphores_used");
  EXPECT_EQ(active[1]["status"], "WARNING");
  EXPECT_EQ(active[1]["value"], 90.0);

  testing::CommandResult table = run("alerts --active");
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_EQ(lines(table.output), 1u + 2u) << table.output;
  EXPECT_NE(table.output.find("CRITICAL"), std::string::npos);

  testing::CommandResult csv = run("alerts --active --format csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.output;
  EXPECT_EQ(csv.output.rfind("alert,chart,instance,status,value,since,since_time,summary,"
                             "now_value,now_limit,now_percent,now_unit,now_ts\n",
                             0),
            0u);
  EXPECT_NE(csv.output.find("semaphores_used,system.ipc_semaphores,,WARNING,90," +
                            std::to_string(now_ - kHour) + "," + iso8601_utc(now_ - kHour) +
                            ",9 of 10 semaphore arrays in use,"),
            std::string::npos)
      << csv.output;
}

// The fix for issue 14: a resource that filled up after its alert was raised reads 100% now,
// beside the 90% of the transition; failures read as counted over the last minute.
TEST_F(CliAlerts, ActiveShowsWhatTheResourceHoldsNow) {
  {
    StoreOptions options;
    options.path = db_;
    Store store(options);
    TickRecord record;
    record.ts_ms = now_ - 30'000;
    record.interval_ms = 1000;
    record.charts.push_back(
        {Chart{"system.ipc_semaphores", "semaphores", {{"semaphores", std::uint64_t{10}}}}, {}});
    record.charts.push_back(
        {Chart{"system.ipc_limits", "limit", {{"semmns", std::uint64_t{10}}}}, {}});
    record.charts.push_back(
        {Chart{"system.ipc_call_errors", "calls", {{"semget_ENOSPC", std::uint64_t{2}}}}, {}});
    record.alert_transitions = {transition(now_ - 30'000, "ipc_call_failures",
                                           "system.ipc_call_errors", "semget_ENOSPC",
                                           AlertStatus::kClear, AlertStatus::kCritical, 2.0,
                                           "semget failed with ENOSPC 2 times in the last 1m")};
    store.write_tick(record);
  }
  testing::CommandResult json = run("alerts --active --format json");
  ASSERT_EQ(json.exit_code, 0) << json.output;
  nlohmann::json active = nlohmann::json::parse(json.output)["active"];
  ASSERT_EQ(active.size(), 3u) << json.output;
  EXPECT_EQ(active[0]["alert"], "ipc_call_failures");
  EXPECT_EQ(active[0]["now"]["value"], 2.0) << json.output;
  EXPECT_TRUE(active[0]["now"]["limit"].is_null());
  EXPECT_EQ(active[0]["now"]["unit"], "failures in the last 1m");
  EXPECT_TRUE(active[1]["now"].is_null()) << "queue 7's bytes were never stored";
  EXPECT_EQ(active[2]["alert"], "semaphores_used");
  EXPECT_EQ(active[2]["value"], 90.0);
  EXPECT_EQ(active[2]["now"]["value"], 10.0);
  EXPECT_EQ(active[2]["now"]["limit"], 10.0);
  EXPECT_EQ(active[2]["now"]["percent"], 100.0);
  EXPECT_EQ(active[2]["now"]["ts"], now_ - 30'000);
  EXPECT_EQ(active[2]["now"]["unit"], "semaphores");

  testing::CommandResult table = run("alerts --active");
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("10 of 10 (100%)"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("2 failures in the last 1m"), std::string::npos) << table.output;
}

TEST_F(CliAlerts, AtShowsTheAlertStatesOfThatMoment) {
  testing::CommandResult then = run("at " + iso8601_utc(now_ - 90 * 60'000) + " --format json");
  ASSERT_EQ(then.exit_code, 0) << then.output;
  nlohmann::json alerts = nlohmann::json::parse(then.output)["alerts"];
  ASSERT_EQ(alerts.size(), 3u) << then.output;
  EXPECT_EQ(alerts[0]["instance"], "7");
  EXPECT_EQ(alerts[0]["status"], "CRITICAL");
  EXPECT_EQ(alerts[1]["instance"], "9");
  EXPECT_EQ(alerts[1]["status"], "WARNING");
  EXPECT_EQ(alerts[2]["status"], "CLEAR");  // the semaphores' WARNING came 30 min later
  EXPECT_EQ(alerts[2]["since"], now_ - 3 * kHour);

  testing::CommandResult now = run("at now");
  ASSERT_EQ(now.exit_code, 0) << now.output;
  std::string alerts_part = now.output.substr(now.output.find("\nalerts\n"));
  EXPECT_NE(alerts_part.find("CRITICAL"), std::string::npos) << now.output;
  EXPECT_EQ(alerts_part.find("REMOVED"), std::string::npos) << "queue 9 is gone\n" << now.output;
  // "\nalerts\n", the header, two states
  EXPECT_EQ(lines(alerts_part), 2u + 1u + 2u) << now.output;

  testing::CommandResult before = run("at -31h --format json");
  ASSERT_EQ(before.exit_code, 0) << before.output;
  EXPECT_TRUE(nlohmann::json::parse(before.output)["alerts"].empty());
}

TEST_F(CliAlerts, BadArgumentsAndFilesGiveOneLineAndExitTwo) {
  for (const std::string& arguments :
       {std::string("alerts --since yesterday"), std::string("alerts --format xml"),
        std::string("alerts --active --since -1h")}) {
    testing::CommandResult result = run(arguments);
    EXPECT_EQ(result.exit_code, 2) << arguments << "\n" << result.output;
    EXPECT_FALSE(result.output.empty()) << arguments;
  }
  testing::CommandResult missing = testing::run_ipctrail("alerts --db " + db_ + ".missing");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(lines(missing.output), 1u) << missing.output;
  EXPECT_NE(missing.output.find("no such history file"), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace ipctrail
