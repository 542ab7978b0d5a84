// The failure and forecast alerts end to end (docs/design.md §10): the real agent, with BPF
// attached, watches a semaphore array leak under a low semmni in a private IPC namespace. The
// forecast must warn at least a minute before the limit is reached; the failed semget calls at
// the limit must raise ipc_call_failures CRITICAL, which clears once its window has passed; both
// reach the history, notify.exec and the Prometheus textfile; `alerts --active` shows the
// resource as it is now beside the value of the transition.
#include <signal.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "model/time_parse.h"
#include "tests/support/agent_process.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/prometheus_support.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

using namespace std::chrono_literals;

// The scenario: semmni 160, one array leaked every 500 ms, so the limit is reached about 80 s
// after the leak starts; a 10 s forecast window sees the climb within about 5 s. At the limit the
// leaker fails 3 more times with ENOSPC, like a service crash-looping on semget, then stops.
constexpr int kSemmni = 160;
constexpr auto kLeakEvery = 500ms;
constexpr int kFailedAttempts = 3;

class FailureAndForecastAlerts : public testing::IpcNamespaceTest {
 protected:
  // One column of the alert_log rows matching `where`, oldest first, comma-separated. The agent
  // writes meanwhile: sqlite3 waits for its lock.
  std::string log_column(const std::string& column, const std::string& where) {
    testing::CommandResult result = testing::run_shell(
        "sqlite3 -cmd '.timeout 5000' " + db_ + " \"SELECT group_concat(" + column +
        ") FROM (SELECT " + column + " FROM alert_log WHERE " + where + " ORDER BY ts)\"");
    return result.output.substr(0, result.output.find('\n'));
  }
  // The ts of the oldest row matching `where`.
  std::int64_t first_ts(const std::string& where) {
    std::string all = log_column("ts", where);
    return all.empty() ? 0 : std::stoll(all.substr(0, all.find(',')));
  }

  // Forks the leaker; it writes the wall time at which it made the last array the limit allows.
  pid_t start_leak(int report_fd) {
    pid_t child = ::fork();
    if (child != 0) return child;
    int made = 0;
    std::int64_t limit_reached_ms = 0;
    for (;;) {
      if (::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600) < 0) break;
      if (++made == kSemmni) limit_reached_ms = unix_now_ms();
      std::this_thread::sleep_for(kLeakEvery);  // the leak's pace, not a wait for the agent
    }
    int failures = errno == ENOSPC ? 1 : 0;
    for (int attempt = 1; attempt < kFailedAttempts; ++attempt) {
      failures += ::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600) < 0 && errno == ENOSPC;
    }
    bool reported = made == kSemmni && failures == kFailedAttempts &&
                    ::write(report_fd, &limit_reached_ms, sizeof limit_reached_ms) ==
                        static_cast<ssize_t>(sizeof limit_reached_ms);
    ::_exit(reported ? 0 : 1);
  }

  testing::ScratchDirectory scratch_;
  std::string db_ = (scratch_.path() / "history.db").string();
  std::string config_ = (scratch_.path() / "ipctrail.yaml").string();
  std::string log_ = (scratch_.path() / "agent.log").string();
  std::string notified_ = (scratch_.path() / "notified.txt").string();
  std::string textfile_ = (scratch_.path() / "ipctrail.prom").string();
};

TEST_F(FailureAndForecastAlerts, ALeakIsForecastAMinuteAheadAndItsFailuresPage) {
  set_kernel_value("sem", "250 32000 32 " + std::to_string(kSemmni));
  {
    std::ofstream file(config_);
    file << "interval: 100ms\n"
            "bpf:\n  enabled: true\n"  // the agent refuses to start without BPF
            "alerts:\n"
            "  semaphore_arrays_exhaustion:\n"
            "    every: 100ms\n    window: 10s\n    crit_within: 20s\n"
            "  ipc_call_failures:\n"
            "    every: 100ms\n    window: 3s\n"
            "  semaphore_arrays_used:\n"
            "    every: 100ms\n"
            "notify:\n"
            "  exec: [/bin/sh, -c, 'echo \"$IPCTRAIL_ALERT $IPCTRAIL_INSTANCE "
            "$IPCTRAIL_NEW_STATUS $IPCTRAIL_NEW_VALUE\" >> "
         << notified_
         << "']\n"
            "export:\n  textfile:\n    path: "
         << textfile_ << "\n";
  }
  testing::AgentProcess agent(db_, {"--config", config_}, log_);
  ASSERT_TRUE(testing::eventually([&] {
    return log_column("new_status", "alert = 'semaphore_arrays_exhaustion'") == "CLEAR";
  })) << testing::read_text(log_);
  ASSERT_NE(testing::read_text(log_).find("BPF attached"), std::string::npos)
      << testing::read_text(log_);

  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  pid_t leaker = start_leak(report[1]);
  ASSERT_GT(leaker, 0);
  ::close(report[1]);

  // The leak runs for about 80 s; the bound only stops a hang.
  int status = 0;
  for (auto deadline = std::chrono::steady_clock::now() + 10min;
       ::waitpid(leaker, &status, WNOHANG) == 0; std::this_thread::sleep_for(100ms)) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the leaker hangs";
  }
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the leak did not go as planned";
  std::int64_t limit_reached_ms = 0;
  ASSERT_EQ(::read(report[0], &limit_reached_ms, sizeof limit_reached_ms),
            static_cast<ssize_t>(sizeof limit_reached_ms));
  ::close(report[0]);

  // The forecast: WARNING first, a minute or more before the limit; CRITICAL within 20 s of it.
  std::string forecast = "alert = 'semaphore_arrays_exhaustion'";
  std::string statuses = log_column("new_status", forecast);
  ASSERT_EQ(statuses.rfind("CLEAR,WARNING,CRITICAL", 0), 0u) << statuses;
  std::int64_t warned_ms = first_ts(forecast + " AND new_status = 'WARNING'");
  EXPECT_GE(limit_reached_ms - warned_ms, 60'000)
      << "warned " << (limit_reached_ms - warned_ms) << " ms before the limit";
  RecordProperty("forecast_warning_lead_ms", std::to_string(limit_reached_ms - warned_ms));
  std::cout << "forecast WARNING " << (limit_reached_ms - warned_ms)
            << " ms before the limit was reached\n";
  std::string summary = log_column("summary", forecast + " AND new_status = 'WARNING'");
  EXPECT_NE(summary.find("semaphore arrays reach the limit 160 (semmni) in ~"), std::string::npos)
      << summary;

  // The failures: CRITICAL with the exact count, CLEAR once the 3 s window passed without any.
  std::string failures = "alert = 'ipc_call_failures' AND instance = 'semget_ENOSPC'";
  ASSERT_TRUE(testing::eventually([&] {
    return log_column("new_status", failures) == "CLEAR,CRITICAL,CLEAR";
  })) << log_column("new_status", failures)
      << testing::read_text(log_);
  EXPECT_EQ(log_column("new_value", failures), "0.0,3.0,0.0");
  // Cleared once the window passed, not sooner.
  std::int64_t critical_ms = first_ts(failures + " AND new_status = 'CRITICAL'");
  std::int64_t cleared_ms = first_ts(failures + " AND old_status = 'CRITICAL'");
  EXPECT_GE(cleared_ms - critical_ms, 3'000 - 200) << "cleared before the window passed";
  EXPECT_EQ(log_column("summary", failures + " AND new_status = 'CRITICAL'"),
            "semget failed with ENOSPC 3 times in the last 3s");
  // No other failure was seen.
  EXPECT_EQ(log_column("instance", "alert = 'ipc_call_failures' AND new_status = 'CRITICAL'"),
            "semget_ENOSPC");

  // `alerts --active`: semaphore_arrays_used was raised on its way up, and sits at 100% now.
  testing::CommandResult active =
      testing::run_ipctrail("alerts --active --format json --db " + db_);
  ASSERT_EQ(active.exit_code, 0) << active.output;
  nlohmann::json json = nlohmann::json::parse(active.output);
  bool found = false;
  for (const nlohmann::json& row : json["active"]) {
    if (row["alert"] != "semaphore_arrays_used") continue;
    found = true;
    EXPECT_EQ(row["status"], "CRITICAL") << row;
    EXPECT_LT(row["value"].get<double>(), 100) << row;
    EXPECT_EQ(row["now"]["value"], kSemmni) << row;
    EXPECT_EQ(row["now"]["limit"], kSemmni) << row;
    EXPECT_EQ(row["now"]["percent"], 100.0) << row;
    EXPECT_EQ(row["now"]["unit"], "semaphore arrays") << row;
  }
  EXPECT_TRUE(found) << active.output;
  testing::CommandResult table = testing::run_ipctrail("alerts --active --db " + db_);
  EXPECT_NE(table.output.find("160 of 160 (100%)"), std::string::npos) << table.output;

  EXPECT_EQ(agent.stop(SIGTERM), 0);
  std::string notified = testing::read_text(notified_);
  EXPECT_NE(notified.find("semaphore_arrays_exhaustion  WARNING"), std::string::npos) << notified;
  EXPECT_NE(notified.find("ipc_call_failures semget_ENOSPC CRITICAL 3"), std::string::npos)
      << notified;
}

// While the failures are within their window the exporter says CRITICAL (4).
TEST_F(FailureAndForecastAlerts, ACallFailureIsExportedWhileInItsWindow) {
  set_kernel_value("sem", "250 32000 32 1");
  {
    std::ofstream file(config_);
    file << "interval: 100ms\n"
            "bpf:\n  enabled: true\n"
            "alerts:\n  ipc_call_failures:\n    every: 100ms\n    window: 1h\n"
            "export:\n  textfile:\n    path: "
         << textfile_ << "\n";
  }
  testing::AgentProcess agent(db_, {"--config", config_}, log_);
  std::string exported = "alert_instance=\"semget_ENOSPC\"} ";
  ASSERT_TRUE(testing::eventually([&] {
    return testing::read_text(textfile_).find(exported + "1") != std::string::npos;
  })) << testing::read_text(textfile_)
      << testing::read_text(log_);
  create_semaphore_array(1);
  errno = 0;
  EXPECT_EQ(::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600), -1);
  EXPECT_EQ(errno, ENOSPC);
  ASSERT_TRUE(testing::eventually([&] {
    return testing::read_text(textfile_).find(exported + "4") != std::string::npos;
  })) << testing::read_text(textfile_);
  EXPECT_EQ(agent.stop(SIGTERM), 0);
}

// Without BPF nothing is counted: the failure alert is there, UNDEFINED, in the log and exported
// as -1, so a fleet sees that it cannot fire.
TEST_F(FailureAndForecastAlerts, WithoutBpfTheFailureAlertIsUndefined) {
  {
    std::ofstream file(config_);
    file << "interval: 100ms\n"
            "bpf:\n  enabled: false\n"
            "alerts:\n  ipc_call_failures:\n    every: 100ms\n"
            "export:\n  textfile:\n    path: "
         << textfile_ << "\n";
  }
  testing::AgentProcess agent(db_, {"--config", config_}, log_);
  std::string failures = "alert = 'ipc_call_failures'";
  ASSERT_TRUE(testing::eventually([&] {
    return log_column("new_status", failures) ==
           "UNDEFINED,UNDEFINED,UNDEFINED,UNDEFINED,UNDEFINED,UNDEFINED,UNDEFINED";
  })) << log_column("new_status", failures)
      << testing::read_text(log_);
  EXPECT_EQ(log_column("DISTINCT summary", failures),
            "IPC system calls are not counted (BPF is off or unavailable)");
  ASSERT_TRUE(testing::eventually([&] {
    return testing::read_text(textfile_).find("alert_instance=\"semget_ENOSPC\"} -1") !=
           std::string::npos;
  })) << testing::read_text(textfile_);
  EXPECT_EQ(agent.stop(SIGTERM), 0);
}

}  // namespace
}  // namespace ipctrail
