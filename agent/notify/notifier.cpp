#include "agent/notify/notifier.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string_view>

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

// A program's stdout and stderr: the first kOutputHeadBytes kept for the log, the rest read and
// counted, so that the program never blocks on a full pipe.
class ProgramOutput {
 public:
  explicit ProgramOutput(int fd) : fd_(fd) { ::fcntl(fd_, F_SETFL, O_NONBLOCK); }
  ~ProgramOutput() { close(); }
  ProgramOutput(const ProgramOutput&) = delete;
  ProgramOutput& operator=(const ProgramOutput&) = delete;

  // Waits up to `wait` for output and reads a bounded amount of it, so that a program writing
  // without pause does not keep the caller from its other checks.
  void read_for(std::chrono::milliseconds wait) {
    if (fd_ < 0) {
      std::this_thread::sleep_for(wait);
      return;
    }
    pollfd entry{fd_, POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(wait.count())) > 0) read_available(kReadPerWait);
  }

  // Once the program has exited: what the pipe still holds, then closed. Bounded, because what
  // the program started may still be writing; it then gets EPIPE.
  void drain_after_exit() {
    read_available(kReadPerWait);
    close();
  }

  // "; it printed: "..."", control characters escaped so a program cannot forge log lines; empty
  // when it printed nothing.
  std::string text() const {
    if (total_ == 0) return "";
    std::string_view kept = head_;
    if (total_ == head_.size() && !kept.empty() && kept.back() == '\n') kept.remove_suffix(1);
    std::string escaped;
    for (char c : kept) {
      auto byte = static_cast<unsigned char>(c);
      if (c == '\n') {
        escaped += "\\n";
      } else if (c == '\\') {
        escaped += "\\\\";
      } else if (byte < 0x20 || byte == 0x7f) {
        escaped += fmt::format("\\x{:02x}", byte);
      } else {
        escaped += c;
      }
    }
    std::string more = total_ > head_.size()
                           ? fmt::format(" (and {} more bytes, not kept)", total_ - head_.size())
                           : "";
    return fmt::format("; it printed: \"{}\"{}", escaped, more);
  }

 private:
  static constexpr std::size_t kReadPerWait = 1 << 20;

  void read_available(std::size_t limit) {
    char buffer[16384];
    for (std::size_t read_now = 0; fd_ >= 0 && read_now < limit;) {
      ssize_t got = ::read(fd_, buffer, sizeof buffer);
      if (got < 0 && errno == EINTR) continue;
      if (got == 0) close();  // every writer is gone
      if (got <= 0) return;   // or nothing more for now
      auto size = static_cast<std::size_t>(got);
      head_.append(buffer, std::min(size, kOutputHeadBytes - head_.size()));
      total_ += size;
      read_now += size;
    }
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  int fd_;
  std::string head_;
  std::uint64_t total_ = 0;
};

struct Ending {
  enum How { kExited, kTimedOut, kStopped } how = kExited;
  int status = 0;  // waitpid's
};

// The agent stops: SIGTERM to the program's process group, SIGKILL after kStopGrace to whatever
// of it is left. Returns the program's wait status.
int stop_group(pid_t pid, ProgramOutput& output) {
  ::kill(-pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + kStopGrace;
  for (;;) {
    // WNOWAIT leaves the program a zombie: its pid, the group's id, cannot be reused before the
    // SIGKILL below reaches what it started.
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == pid) {
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    output.read_for(kPollInterval);
  }
  ::kill(-pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

// Reads the program's output until it exits, its timeout kills it, or `stop` is set.
Ending wait_for_exit(pid_t pid, ProgramOutput& output, Duration timeout,
                     const std::atomic<bool>& stop) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  Ending ending;
  for (;;) {
    pid_t done = ::waitpid(pid, &ending.status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) return ending;
    if (stop) {
      ending.how = Ending::kStopped;
      ending.status = stop_group(pid, output);
      return ending;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &ending.status, 0);
      ending.how = Ending::kTimedOut;
      return ending;
    }
    output.read_for(kPollInterval);
  }
}

}  // namespace

std::vector<std::string> notification_environment(const AlertTransition& t) {
  return {
      fmt::format("IPCTRAIL_ALERT={}", t.alert),
      fmt::format("IPCTRAIL_CHART={}", t.chart),
      fmt::format("IPCTRAIL_INSTANCE={}", t.instance),
      fmt::format("IPCTRAIL_NAMESPACE={}", t.namespace_label.empty() ? "host" : t.namespace_label),
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
  stop_running_ = true;
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
  std::string program = arguments[0];

  // stdout and stderr into one pipe; both ends close-on-exec: the program holds only its 1 and 2.
  int output[2];
  if (::pipe2(output, O_CLOEXEC) != 0) {
    spdlog::error("notify.exec: cannot run {} for {}: pipe: {}", program, describe(transition),
                  std::strerror(errno));
    std::lock_guard lock(mutex_);
    ++stats_.failed;
    return;
  }
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&files, output[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&files, output[1], STDERR_FILENO);
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
  ::close(output[1]);

  if (error != 0) {
    ::close(output[0]);
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

  ProgramOutput printed(output[0]);
  Ending ending = wait_for_exit(pid, printed, options.timeout, stop_running_);
  printed.drain_after_exit();

  std::string said = printed.text();
  std::lock_guard lock(mutex_);
  if (ending.how == Ending::kTimedOut) {
    spdlog::warn("notify.exec: {} for {} still ran after {}; killed{}", program,
                 describe(transition), format_duration(options.timeout), said);
    ++stats_.timed_out;
    ++stats_.failed;
  } else if (ending.how == Ending::kStopped) {
    spdlog::warn("notify.exec: {} for {} stopped with the agent{}", program, describe(transition),
                 said);
    ++stats_.failed;
  } else if (WIFEXITED(ending.status) && WEXITSTATUS(ending.status) == 0) {
    if (!said.empty())
      spdlog::info("notify.exec: {} for {}{}", program, describe(transition), said);
    ++stats_.succeeded;
  } else if (WIFEXITED(ending.status)) {
    spdlog::warn("notify.exec: {} for {} exited with status {}{}", program, describe(transition),
                 WEXITSTATUS(ending.status), said);
    ++stats_.failed;
  } else {
    spdlog::warn("notify.exec: {} for {} died of signal {}{}", program, describe(transition),
                 WTERMSIG(ending.status), said);
    ++stats_.failed;
  }
}

}  // namespace ipctrail
