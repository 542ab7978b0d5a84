// The running agent end to end: the alert engine on the real kernel, its transitions in the
// history file, and SIGHUP reloads of the config file.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "tests/support/agent_process.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/prometheus_support.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

using namespace std::chrono_literals;

class AgentAlerts : public testing::IpcNamespaceTest {
 protected:
  void write_config(const std::string& alert_block) {
    std::ofstream file(config_);
    file << "interval: 100ms\n"
            "bpf:\n  enabled: false\n"
            "alerts:\n  semaphore_arrays_used:\n    every: 100ms\n"
         << alert_block;
  }

  // The statuses the history holds for semaphore_arrays_used, oldest first, e.g. "CLEAR,WARNING".
  std::string statuses() {
    testing::CommandResult result = testing::run_shell(
        "sqlite3 " + db_ +
        " \"SELECT group_concat(new_status) FROM (SELECT new_status FROM alert_log WHERE "
        "alert = 'semaphore_arrays_used' ORDER BY ts)\"");
    return result.output.substr(0, result.output.find('\n'));
  }

  // Waits up to 10 s for the status history to become `expected`.
  bool wait_for_statuses(const std::string& expected) {
    for (auto deadline = std::chrono::steady_clock::now() + 10s;
         std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(100ms)) {
      if (statuses() == expected) return true;
    }
    return false;
  }

  testing::ScratchDirectory scratch_;
  std::string db_ = (scratch_.path() / "history.db").string();
  std::string config_ = (scratch_.path() / "ipctrail.yaml").string();
  std::string log_ = (scratch_.path() / "agent.log").string();
};

TEST_F(AgentAlerts, SemaphoreArraysWalkIsLoggedAndStored) {
  set_kernel_value("sem", "250 32000 32 10");
  write_config("");
  testing::AgentProcess agent(db_, {"--config", config_}, log_);
  ASSERT_TRUE(wait_for_statuses("CLEAR")) << statuses() << testing::read_text(log_);

  std::vector<int> arrays;
  for (int i = 0; i < 9; ++i) arrays.push_back(create_semaphore_array(1));
  ASSERT_TRUE(wait_for_statuses("CLEAR,WARNING")) << statuses();

  remove_semaphore_array(arrays.back());  // 8 of 10: above warn_clear, still WARNING
  arrays.pop_back();
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(statuses(), "CLEAR,WARNING");

  for (int i = 0; i < 2; ++i) {  // 6 of 10: at or below warn_clear
    remove_semaphore_array(arrays.back());
    arrays.pop_back();
  }
  ASSERT_TRUE(wait_for_statuses("CLEAR,WARNING,CLEAR")) << statuses();
  EXPECT_EQ(agent.stop(SIGTERM), 0);

  std::string log = testing::read_text(log_);
  EXPECT_NE(log.find("alert semaphore_arrays_used: CLEAR -> WARNING"), std::string::npos) << log;
  testing::CommandResult listed = testing::run_ipctrail("alerts --db " + db_ + " --format csv");
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_EQ(testing::count_of(listed.output, "semaphore_arrays_used"), 3u) << listed.output;
}

TEST_F(AgentAlerts, SighupAppliesAGoodFileAndKeepsTheOldOneOnABadFile) {
  set_kernel_value("sem", "250 32000 32 10");
  write_config("");
  for (int i = 0; i < 3; ++i) create_semaphore_array(1);  // 30%: CLEAR at the default 80
  testing::AgentProcess agent(db_, {"--config", config_}, log_);
  ASSERT_TRUE(wait_for_statuses("CLEAR")) << statuses() << testing::read_text(log_);

  {
    std::ofstream bad(config_);
    bad << "interval: 100ms\nalerts:\n  semaphore_arrays_used:\n    warn_clr: 10\n";
  }
  ASSERT_EQ(::kill(agent.pid(), SIGHUP), 0);
  std::size_t ticks_before = testing::committed_ticks(testing::read_text(log_)).size();
  std::this_thread::sleep_for(1s);
  std::string log = testing::read_text(log_);
  EXPECT_NE(log.find("keeping the running configuration"), std::string::npos) << log;
  EXPECT_NE(log.find("did you mean 'warn_clear'"), std::string::npos) << log;
  EXPECT_TRUE(agent.running());
  EXPECT_GT(testing::committed_ticks(log).size(), ticks_before + 3) << "sampling stopped";
  EXPECT_EQ(statuses(), "CLEAR");

  write_config("    warn: 20\n    warn_clear: 10\n");  // 30% is now above warn
  ASSERT_EQ(::kill(agent.pid(), SIGHUP), 0);
  ASSERT_TRUE(wait_for_statuses("CLEAR,WARNING")) << statuses() << testing::read_text(log_);
  EXPECT_EQ(agent.stop(SIGTERM), 0);
}

}  // namespace
}  // namespace ipctrail
