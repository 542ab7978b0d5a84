// Test support: run `ipctrail agent` as a child process that a test can signal, kill and measure.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ipctrail::testing {

class AgentProcess {
 public:
  // Starts `ipctrail --log-level debug agent --db <db> <arguments>`, stdout and stderr to `log`;
  // without --db when `db` is empty (the config file's database.path then counts).
  AgentProcess(const std::string& db, const std::vector<std::string>& arguments,
               const std::string& log);
  ~AgentProcess();  // kills a still running agent with SIGKILL
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  bool running();
  // Sends `signal` and waits: the exit code, or -signal when the signal killed it.
  int stop(int signal);
  std::uint64_t rss_kib() const;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
};

std::string read_text(const std::string& path);
// The timestamps of the ticks the agent logged as committed.
std::vector<std::int64_t> committed_ticks(const std::string& log_text);
std::size_t count_of(const std::string& text, const std::string& needle);
// Polls `condition` every 20 ms for up to a minute: it bounds a hang and asserts no timing.
bool eventually(const std::function<bool()>& condition);

}  // namespace ipctrail::testing
