// Netdata's name for the queue messages chart, system.message_queue_messages, works wherever a
// chart is named: `ipctrail query --chart` and the history file's views, on a file the agent
// wrote in a private IPC namespace.
#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "tests/support/history_command_test.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

class ChartAlias : public testing::HistoryCommandTest {};

TEST_F(ChartAlias, QueryAndTheViewsAcceptNetdatasName) {
  int msqid = create_queue();
  send_message(msqid, 100);
  send_message(msqid, 100);
  ASSERT_EQ(run("agent --interval 100ms --ticks 3").exit_code, 0);

  for (const std::string format : {"csv", "json", "table"}) {
    std::string window = " --since 2020-01-01 --until 2100-01-01 --format " + format;
    testing::CommandResult ours = run("query --chart system.message_queue_message" + window);
    testing::CommandResult netdatas = run("query --chart system.message_queue_messages" + window);
    ASSERT_EQ(ours.exit_code, 0) << ours.output;
    ASSERT_EQ(netdatas.exit_code, 0) << netdatas.output;
    EXPECT_EQ(netdatas.output, ours.output) << format;
    EXPECT_NE(ours.output.find(std::to_string(msqid)), std::string::npos) << ours.output;
  }

  SQLite::Database db(db_, SQLite::OPEN_READONLY);
  std::int64_t rows =
      db.execAndGet("SELECT count(*) FROM history WHERE chart = 'system.message_queue_message'")
          .getInt64();
  EXPECT_GT(rows, 0);
  EXPECT_EQ(db.execAndGet("SELECT count(*) FROM history_by_name "
                          "WHERE name = 'system.message_queue_messages'")
                .getInt64(),
            rows);
  EXPECT_EQ(db.execAndGet("SELECT max(value) FROM history_by_name "
                          "WHERE name = 'system.message_queue_messages'")
                .getInt64(),
            2);
  EXPECT_EQ(db.execAndGet("SELECT context FROM charts WHERE id = 'system.message_queue_message'")
                .getString(),
            "system.message_queue_messages");
}

TEST_F(ChartAlias, AnUnknownChartStillNamesWhatTheFileHas) {
  ASSERT_EQ(run("agent --interval 100ms --ticks 1").exit_code, 0);
  testing::CommandResult result = run("query --chart system.message_queue_mesages");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("system.message_queue_message"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace ipctrail
