// Test support: run `ipctrail agent` as a child process that a test can signal, kill and measure.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace ipctrail::testing {

// A user to run as instead of the test's own: its uid, its primary gid, no supplementary groups.
struct RunAs {
  uid_t uid = 0;
  gid_t gid = 0;
};

class AgentProcess {
 public:
  // Starts `ipctrail --log-level debug agent --db <db> <arguments>`, stdout and stderr to `log`,
  // as `user` when given (the test must be root); without --db when `db` is empty (the config
  // file's database.path then counts).
  AgentProcess(const std::string& db, const std::vector<std::string>& arguments,
               const std::string& log, std::optional<RunAs> user = std::nullopt);
  // Runs `agent_main` in a forked child of the test instead, stdout and stderr to `log`, and
  // exits with what it returns: for what the command line refuses, such as ticks faster than
  // kMinInterval. Fork before starting threads in the test.
  AgentProcess(const std::function<int()>& agent_main, const std::string& log);
  ~AgentProcess();  // kills a still running agent with SIGKILL
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  bool running();
  // Sends `signal` and waits: the exit code, or -signal when the signal killed it.
  int stop(int signal);
  std::uint64_t rss_kib() const;
  // A size of its /proc/<pid>/status in KiB ("VmRSS", "RssAnon", "VmHWM"); 0 when absent.
  std::uint64_t status_kib(const std::string& field) const;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
};

// Polls `condition` every 100 ms for up to a minute (no timing is asserted; this only bounds a
// hang); whether it came true.
template <typename Condition>
bool eventually(Condition condition) {
  for (int i = 0; i < 600; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::string read_text(const std::string& path);
// The timestamps of the ticks the agent logged as committed.
std::vector<std::int64_t> committed_ticks(const std::string& log_text);
std::size_t count_of(const std::string& text, const std::string& needle);
// Polls `condition` every 20 ms for up to a minute: it bounds a hang and asserts no timing.
bool eventually(const std::function<bool()>& condition);

}  // namespace ipctrail::testing
