// `ipctrail query` and `ipctrail at` run as programs on a file the agent wrote in a private IPC
// namespace.
#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/history_command_test.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

class CliHistory : public testing::HistoryCommandTest {};

TEST_F(CliHistory, AgentWritesWhatQueryAndAtRead) {
  set_kernel_value("sem", "250 1000 32 10");
  create_semaphore_array(4);
  int msqid = create_queue();
  send_message(msqid, 100);
  testing::CommandResult agent = run("agent --interval 100ms --ticks 5");
  ASSERT_EQ(agent.exit_code, 0) << agent.output;
  EXPECT_NE(agent.output.find("5 ticks written, 0 dropped"), std::string::npos) << agent.output;

  testing::CommandResult at = run("at now --format json");
  ASSERT_EQ(at.exit_code, 0) << at.output;
  nlohmann::json snapshot = nlohmann::json::parse(at.output);
  EXPECT_EQ(snapshot["charts"]["system.ipc_semaphores"]["dimensions"]["semaphores"]["value"], 4);
  EXPECT_EQ(snapshot["charts"]["system.ipc_limits"]["dimensions"]["semmni"]["value"], 10);
  auto queue =
      snapshot["charts"]["system.message_queue_bytes"]["dimensions"][std::to_string(msqid)];
  EXPECT_EQ(queue["value"], 100);
  EXPECT_EQ(queue["owner_uid"], 0);

  testing::CommandResult table = run("at now");
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("system.ipc_limits"), std::string::npos) << table.output;

  testing::CommandResult changes =
      run("query --chart system.ipc_semaphores --since -1h --format json");
  ASSERT_EQ(changes.exit_code, 0) << changes.output;
  nlohmann::json rows = nlohmann::json::parse(changes.output);
  ASSERT_EQ(rows["series"].size(), 1u);
  // Five ticks of one value: one row per sampling span (a slow, skipped tick starts a new one).
  SQLite::Database db(db_, SQLite::OPEN_READONLY);
  EXPECT_EQ(rows["series"][0]["points"].size(),
            static_cast<std::size_t>(db.execAndGet("SELECT count(*) FROM spans").getInt()));
  for (const auto& point : rows["series"][0]["points"]) EXPECT_EQ(point[1], 4);

  // A regular grid over the last minute: the agent sampled only at the end of it.
  testing::CommandResult grid =
      run("query --chart system.ipc_semaphores --since -1m --step 10s "
          "--format csv");
  ASSERT_EQ(grid.exit_code, 0) << grid.output;
  EXPECT_EQ(std::count(grid.output.begin(), grid.output.end(), '\n'), 1 + 7) << grid.output;
  EXPECT_EQ(grid.output.rfind("ts,time,chart,dimension,value,queue_key,owner_uid\n", 0), 0u);
  EXPECT_NE(grid.output.find(",system.ipc_semaphores,semaphores,,"), std::string::npos)
      << "grid points before the agent ran are empty\n"
      << grid.output;

  testing::CommandResult one =
      run("query --chart system.message_queue_message --dimension " + std::to_string(msqid));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_NE(one.output.find(std::to_string(msqid)), std::string::npos) << one.output;
}

TEST_F(CliHistory, BadArgumentsAndForeignFilesGiveOneLineAndExitTwo) {
  ASSERT_EQ(run("agent --interval 100ms --ticks 1").exit_code, 0);
  for (const std::string& arguments :
       {std::string("query --chart system.nope"), std::string("query"),
        std::string("query --chart system.ipc_semaphores --since yesterday"),
        std::string("query --chart system.ipc_semaphores --since -1m --until -2m"),
        std::string("query --chart system.ipc_semaphores --step 10x"),
        std::string("query --chart system.ipc_semaphores --format xml"),
        std::string("at 2026-13-45"), std::string("agent --interval 0s")}) {
    testing::CommandResult result = run(arguments);
    EXPECT_EQ(result.exit_code, 2) << arguments << "\n" << result.output;
    EXPECT_FALSE(result.output.empty()) << arguments;
  }
  testing::CommandResult missing = testing::run_ipctrail("at now --db " + db_ + ".missing");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("no such history file"), std::string::npos) << missing.output;

  std::string text_file = (dir_ / "notes.db").string();
  std::ofstream(text_file) << "not a database\n";
  testing::CommandResult foreign = testing::run_ipctrail("at now --db " + text_file);
  EXPECT_EQ(foreign.exit_code, 2);
  EXPECT_EQ(std::count(foreign.output.begin(), foreign.output.end(), '\n'), 1) << foreign.output;
  EXPECT_NE(foreign.output.find("not an ipctrail history file"), std::string::npos);
  testing::CommandResult agent_on_foreign =
      testing::run_ipctrail("agent --ticks 1 --db " + text_file);
  EXPECT_EQ(agent_on_foreign.exit_code, 2) << agent_on_foreign.output;
  std::ifstream unchanged(text_file);
  std::string line;
  std::getline(unchanged, line);
  EXPECT_EQ(line, "not a database");
}

// What the file refuses, the flags refuse: before, --interval 1ms ran a busy agent and
// --interval 9223372036854775807ms overflowed the schedule into a busy loop. Times and steps
// that overflowed (the grid loop, the year-10907 date) are refused with the accepted range.
// Bounded runs: a regression fails in seconds instead of spinning or eating the memory.
TEST_F(CliHistory, OutOfRangeFlagsGiveOneLineWithTheRangeAndExitTwo) {
  ASSERT_EQ(run("agent --interval 100ms --ticks 1").exit_code, 0);
  const std::string kRange = "times go from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z";
  const std::pair<std::string, std::string> cases[] = {
      {"agent --interval 1ms --ticks 3",
       "ipctrail agent: --interval: expected a duration from 100ms to 1h, got '1ms'"},
      {"agent --interval 99ms --ticks 3",
       "ipctrail agent: --interval: expected a duration from 100ms to 1h, got '99ms'"},
      {"agent --interval 9223372036854775807ms",
       "ipctrail agent: --interval: expected a duration from 100ms to 1h, got "
       "'9223372036854775807ms'"},
      {"agent --interval 2h --ticks 1",
       "ipctrail agent: --interval: expected a duration from 100ms to 1h, got '2h'"},
      {"agent --interval 10000000000000000000000ms --ticks 1",
       "ipctrail agent: --interval: expected a duration such as 100ms, 10s, 5m, 1h or 30d (a "
       "plain number is seconds), got '10000000000000000000000ms'"},
      {"query --chart system.ipc_semaphores --since -9223372036854775807ms --until 9999-12-31 "
       "--step 1ms",
       "ipctrail query: '-9223372036854775807ms' is out of range: " + kRange},
      {"query --chart system.ipc_semaphores --since 1970-01-01 --until 9999-12-31 --step 1ms",
       "ipctrail query: --step 1ms gives more than 100000 points from --since to --until"},
      {"query --chart system.ipc_semaphores --since -1h --step 9223372036854775807ms",
       "ipctrail query: --step 9223372036854775807ms is longer than the whole range of times "
       "(1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z)"},
      {"query --chart system.ipc_semaphores --since 1969-12-31",
       "ipctrail query: '1969-12-31' is out of range: " + kRange},
      {"at -106751991167d", "ipctrail at: '-106751991167d' is out of range: " + kRange},
      {"at 0000-01-01", "ipctrail at: '0000-01-01' is out of range: " + kRange},
  };
  for (const auto& [arguments, message] : cases) {
    testing::CommandResult result =
        testing::run_ipctrail_bounded(arguments + " --db " + db_, 512 << 20, 20);
    EXPECT_EQ(result.exit_code, 2) << arguments << "\n" << result.output.substr(0, 500);
    EXPECT_EQ(result.output, message + "\n") << arguments;
  }
}

TEST_F(CliHistory, AgentStopsCleanlyOnSigterm) {
  testing::CommandResult result =
      testing::run_ipctrail("agent --interval 100ms --db " + db_ +
                            " 2>&1 & sleep 1; kill -TERM $!; wait $!; echo exit=$?");
  EXPECT_NE(result.output.find("received SIGTERM"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("exit=0"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace ipctrail
