// notify.exec: runs the configured program once per alert transition, directly (no shell),
// with the details in IPCTRAIL_* environment variables. A background worker runs one program
// at a time, in transition order, so the tick never waits for it. What a program prints goes
// through a pipe: the first kOutputHeadBytes into the agent's log, the rest read and discarded,
// so a chatty program neither floods the agent's output nor blocks on a full pipe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "model/alert_status.h"
#include "model/settings.h"

namespace ipctrail {

// How much of a program's stdout and stderr (one pipe for both) is kept for the log.
inline constexpr std::size_t kOutputHeadBytes = 4096;
// On shutdown, how long a running program has between SIGTERM and SIGKILL to its process group.
inline constexpr std::chrono::milliseconds kStopGrace{1000};

struct NotifierOptions {
  std::vector<std::string> command;             // program (absolute path) and arguments; empty: off
  Duration timeout = std::chrono::seconds(10);  // then its whole process group is killed
  std::size_t queue_limit = 256;                // transitions waiting; more are dropped

  friend bool operator==(const NotifierOptions&, const NotifierOptions&) = default;
};

struct NotifierStats {
  std::uint64_t started = 0;    // programs started
  std::uint64_t succeeded = 0;  // exited with status 0
  std::uint64_t failed = 0;     // could not start, exited non-zero or died of a signal
  std::uint64_t timed_out = 0;  // killed at the timeout (also counted in failed)
  std::uint64_t dropped = 0;    // not run because the queue was full or the notifier stopped
};

// The environment a program gets for `transition`, as "NAME=value" strings:
// IPCTRAIL_ALERT, _CHART, _INSTANCE, _OLD_STATUS, _NEW_STATUS (names such as WARNING),
// _OLD_STATUS_CODE, _NEW_STATUS_CODE (Netdata's numbers), _OLD_VALUE, _NEW_VALUE (percent;
// empty when unknown), _WARN, _CRIT (empty when off), _SUMMARY, _TIME (ISO-8601 UTC),
// _TS_MS (unix milliseconds), _HOST.
std::vector<std::string> notification_environment(const AlertTransition& transition);

class Notifier {
 public:
  explicit Notifier(NotifierOptions options);
  // Stops a running program and what it started (SIGTERM to its process group, SIGKILL after
  // kStopGrace), so the agent stops within about kStopGrace; transitions still queued are dropped.
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Queues a run for each transition and returns at once; does nothing when the command is off.
  void notify(const std::vector<AlertTransition>& transitions);

  // A config reload: programs started from now on use these options.
  void reconfigure(NotifierOptions options);

  // Blocks until every queued transition has run (for tests and orderly shutdown).
  void wait_idle();

  NotifierStats stats() const;

 private:
  void work();
  void run(const AlertTransition& transition, const NotifierOptions& options);

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  NotifierOptions options_;
  std::deque<AlertTransition> queue_;
  bool running_ = false;
  bool stopping_ = false;
  std::atomic<bool> stop_running_{false};  // stopping_, seen by run() without the mutex
  std::uint64_t dropped_unreported_ = 0;
  NotifierStats stats_;
  std::thread worker_;
};

}  // namespace ipctrail
