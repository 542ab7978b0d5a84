// `ipctrail query` and `ipctrail at` run as programs on a file the agent wrote in a private IPC
// namespace.
#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/ipc_namespace.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

namespace fs = std::filesystem;

class CliHistory : public testing::IpcNamespaceTest {
 protected:
  void SetUp() override {
    IpcNamespaceTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    dir_ = fs::temp_directory_path() / ("ipctrail-cli-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "history.db").string();
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  testing::CommandResult run(const std::string& arguments) {
    return testing::run_ipctrail(arguments + " --db " + db_);
  }

  fs::path dir_;
  std::string db_;
};

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

TEST_F(CliHistory, AgentStopsCleanlyOnSigterm) {
  testing::CommandResult result =
      testing::run_ipctrail("agent --interval 50ms --db " + db_ +
                            " 2>&1 & sleep 1; kill -TERM $!; wait $!; echo exit=$?");
  EXPECT_NE(result.output.find("received SIGTERM"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("exit=0"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace ipctrail
