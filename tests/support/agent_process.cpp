#include "tests/support/agent_process.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace ipctrail::testing {

AgentProcess::AgentProcess(const std::string& db, const std::vector<std::string>& arguments,
                           const std::string& log, std::optional<RunAs> user) {
  std::vector<std::string> words = {IPCTRAIL_BINARY, "--log-level", "debug", "agent"};
  if (!db.empty()) words.insert(words.end(), {"--db", db});
  words.insert(words.end(), arguments.begin(), arguments.end());
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    if (user &&
        (::setgroups(0, nullptr) != 0 || ::setgid(user->gid) != 0 || ::setuid(user->uid) != 0)) {
      ::_exit(126);
    }
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
}

AgentProcess::AgentProcess(const std::function<int()>& agent_main, const std::string& log) {
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    int code = 127;
    try {
      code = agent_main();
    } catch (...) {
    }
    std::fflush(nullptr);
    ::_exit(code);
  }
}

AgentProcess::~AgentProcess() {
  if (!reaped_) stop(SIGKILL);
}

bool AgentProcess::running() {
  if (reaped_) return false;
  if (::waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
  return !reaped_;
}

int AgentProcess::stop(int signal) {
  if (!reaped_) {
    ::kill(pid_, signal);
    ::waitpid(pid_, &status_, 0);
    reaped_ = true;
  }
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : -WTERMSIG(status_);
}

std::uint64_t AgentProcess::rss_kib() const {
  return status_kib("VmRSS");
}

std::uint64_t AgentProcess::status_kib(const std::string& field) const {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1));
  }
  return 0;
}

std::string read_text(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::vector<std::int64_t> committed_ticks(const std::string& log_text) {
  std::vector<std::int64_t> ticks;
  const std::string marker = "committed tick ts=";
  for (std::size_t at = log_text.find(marker); at != std::string::npos;
       at = log_text.find(marker, at + 1)) {
    std::size_t end = log_text.find('\n', at);
    if (end == std::string::npos) break;  // a line cut by SIGKILL
    ticks.push_back(std::stoll(log_text.substr(at + marker.size(), end - at - marker.size())));
  }
  return ticks;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

bool eventually(const std::function<bool()>& condition) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace ipctrail::testing
