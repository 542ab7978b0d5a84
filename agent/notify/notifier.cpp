#include "agent/notify/notifier.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "model/time_text.h"
#include "model/units.h"

extern char** environ;

namespace ipctrail {

namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(10);

std::string value_text(const std::optional<double>& value) {
  return value ? format_number(*value) : "";
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

// The program's environment: ours, then the agent's own minus any stale IPCTRAIL_ variables.
std::vector<std::string> full_environment(const AlertTransition& transition) {
  std::vector<std::string> variables = notification_environment(transition);
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (std::strncmp(*entry, "IPCTRAIL_", 9) != 0) variables.emplace_back(*entry);
  }
  return variables;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> result;
  for (std::string& text : strings) result.push_back(text.data());
  result.push_back(nullptr);
  return result;
}

std::string describe(const AlertTransition& t) {
  std::string what = std::string(t.alert);
  if (!t.instance.empty()) what += " " + t.instance;
  return fmt::format("{} {} -> {}", what, status_name(t.old_status), status_name(t.new_status));
}

}  // namespace

std::vector<std::string> notification_environment(const AlertTransition& t) {
  return {
      fmt::format("IPCTRAIL_ALERT={}", t.alert),
      fmt::format("IPCTRAIL_CHART={}", t.chart),
      fmt::format("IPCTRAIL_INSTANCE={}", t.instance),
      fmt::format("IPCTRAIL_OLD_STATUS={}", status_name(t.old_status)),
      fmt::format("IPCTRAIL_NEW_STATUS={}", status_name(t.new_status)),
      fmt::format("IPCTRAIL_OLD_STATUS_CODE={}", static_cast<int>(t.old_status)),
      fmt::format("IPCTRAIL_NEW_STATUS_CODE={}", static_cast<int>(t.new_status)),
      fmt::format("IPCTRAIL_OLD_VALUE={}", value_text(t.old_value)),
      fmt::format("IPCTRAIL_NEW_VALUE={}", value_text(t.new_value)),
      fmt::format("IPCTRAIL_WARN={}", format_number(t.warn)),
      fmt::format("IPCTRAIL_CRIT={}", value_text(t.crit)),
      fmt::format("IPCTRAIL_SUMMARY={}", t.summary),
      fmt::format("IPCTRAIL_TIME={}", iso8601_utc(t.ts_ms)),
      fmt::format("IPCTRAIL_TS_MS={}", t.ts_ms),
      fmt::format("IPCTRAIL_HOST={}", host_name()),
  };
}

Notifier::Notifier(NotifierOptions options)
    : options_(std::move(options)), worker_([this] { work(); }) {}

Notifier::~Notifier() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

void Notifier::notify(const std::vector<AlertTransition>& transitions) {
  std::size_t accepted = 0;
  {
    std::lock_guard lock(mutex_);
    if (options_.command.empty() || stopping_) return;
    for (const AlertTransition& transition : transitions) {
      if (queue_.size() >= options_.queue_limit) {
        if (dropped_unreported_ == 0) {
          spdlog::warn(
              "notify.exec: {} notifications are waiting; dropping new ones until they "
              "run",
              queue_.size());
        }
        ++dropped_unreported_;
        ++stats_.dropped;
        continue;
      }
      queue_.push_back(transition);
      ++accepted;
    }
  }
  if (accepted > 0) wake_.notify_one();
}

void Notifier::reconfigure(NotifierOptions options) {
  std::lock_guard lock(mutex_);
  options_ = std::move(options);
}

void Notifier::wait_idle() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return queue_.empty() && !running_; });
}

NotifierStats Notifier::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void Notifier::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) {
      if (!queue_.empty()) {
        spdlog::warn("notify.exec: stopping with {} notifications not run", queue_.size());
        stats_.dropped += queue_.size();
        queue_.clear();
      }
      idle_.notify_all();
      return;
    }
    AlertTransition transition = std::move(queue_.front());
    queue_.pop_front();
    NotifierOptions options = options_;
    running_ = true;
    lock.unlock();
    if (!options.command.empty()) run(transition, options);
    lock.lock();
    running_ = false;
    if (queue_.empty()) {
      if (dropped_unreported_ > 0) {
        spdlog::warn("notify.exec: {} notifications were dropped while the queue was full",
                     dropped_unreported_);
        dropped_unreported_ = 0;
      }
      idle_.notify_all();
    }
  }
}

void Notifier::run(const AlertTransition& transition, const NotifierOptions& options) {
  std::vector<std::string> arguments = options.command;
  std::vector<std::string> environment = full_environment(transition);
  std::vector<char*> argv = pointers(arguments);
  std::vector<char*> envp = pointers(environment);

  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Its own process group, so the timeout kills whatever it started too; default signal
  // handling and an empty mask whatever the agent blocks for itself.
  sigset_t no_signals;
  sigset_t all_signals;
  sigemptyset(&no_signals);
  sigfillset(&all_signals);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setsigmask(&attributes, &no_signals);
  posix_spawnattr_setsigdefault(&attributes, &all_signals);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int error = posix_spawn(&pid, argv[0], &files, &attributes, argv.data(), envp.data());
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&files);

  std::string program = arguments[0];
  if (error != 0) {
    spdlog::error("notify.exec: cannot run {} for {}: {}", program, describe(transition),
                  std::strerror(error));
    std::lock_guard lock(mutex_);
    ++stats_.failed;
    return;
  }
  {
    std::lock_guard lock(mutex_);
    ++stats_.started;
  }

  auto deadline = std::chrono::steady_clock::now() + options.timeout;
  int status = 0;
  bool timed_out = false;
  for (;;) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(kPollInterval);
  }

  std::lock_guard lock(mutex_);
  if (timed_out) {
    spdlog::warn("notify.exec: {} for {} still ran after {}; killed", program, describe(transition),
                 format_duration(options.timeout));
    ++stats_.timed_out;
    ++stats_.failed;
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    ++stats_.succeeded;
  } else if (WIFEXITED(status)) {
    spdlog::warn("notify.exec: {} for {} exited with status {}", program, describe(transition),
                 WEXITSTATUS(status));
    ++stats_.failed;
  } else {
    spdlog::warn("notify.exec: {} for {} died of signal {}", program, describe(transition),
                 WTERMSIG(status));
    ++stats_.failed;
  }
}

}  // namespace ipctrail
