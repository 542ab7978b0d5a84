// notify.exec with real programs: the environment a script sees, a hanging script killed at
// its timeout, a missing program, a full queue, a program still running when the agent stops,
// and what programs print.
#include "agent/notify/notifier.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "tests/support/agent_process.h"
#include "tests/support/log_capture.h"

namespace ipctrail {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class NotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ipctrail-notifier-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string script(const std::string& name, const std::string& body) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << "#!/bin/sh\n" << body;
    ::chmod(path.c_str(), 0755);
    return path;
  }

  std::string read(const std::string& name) {
    std::ifstream file(dir_ / name);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }

  std::filesystem::path dir_;
};

AlertTransition warning_transition() {
  AlertTransition t;
  t.ts_ms = 1'764'126'000'250;
  t.alert = "semaphore_arrays_used";
  t.chart = "system.ipc_semaphore_arrays";
  t.instance = "";
  t.old_status = AlertStatus::kClear;
  t.new_status = AlertStatus::kWarning;
  t.old_value = 60;
  t.new_value = 90;
  t.warn = 80;
  t.crit = std::nullopt;
  t.summary = "9 of 10 semaphore arrays in use (90% of semmni)";
  return t;
}

TEST_F(NotifierTest, AScriptSeesEveryDetailInItsEnvironment) {
  std::string program = script("env.sh",
                               "env | grep '^IPCTRAIL_' | sort > \"$1\"\n"
                               "printf '%s' \"$2\" > \"$1.argument\"\n");
  std::string output = (dir_ / "env.txt").string();
  Notifier notifier({.command = {program, output, "two words $HOME ;"}});
  notifier.notify({warning_transition()});
  notifier.wait_idle();
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  EXPECT_EQ(read("env.txt"),
            "IPCTRAIL_ALERT=semaphore_arrays_used\n"
            "IPCTRAIL_CHART=system.ipc_semaphore_arrays\n"
            "IPCTRAIL_CRIT=\n"
            "IPCTRAIL_HOST=" +
                std::string(host) +
                "\n"
                "IPCTRAIL_INSTANCE=\n"
                "IPCTRAIL_NAMESPACE=host\n"
                "IPCTRAIL_NEW_STATUS=WARNING\n"
                "IPCTRAIL_NEW_STATUS_CODE=3\n"
                "IPCTRAIL_NEW_VALUE=90\n"
                "IPCTRAIL_OLD_STATUS=CLEAR\n"
                "IPCTRAIL_OLD_STATUS_CODE=1\n"
                "IPCTRAIL_OLD_VALUE=60\n"
                "IPCTRAIL_SUMMARY=9 of 10 semaphore arrays in use (90% of semmni)\n"
                "IPCTRAIL_TIME=2025-11-26T03:00:00.250Z\n"
                "IPCTRAIL_TS_MS=1764126000250\n"
                "IPCTRAIL_WARN=80\n");
  EXPECT_EQ(read("env.txt.argument"), "two words $HOME ;");  // no shell expanded it
  NotifierStats stats = notifier.stats();
  EXPECT_EQ(stats.started, 1u);
  EXPECT_EQ(stats.succeeded, 1u);
  EXPECT_EQ(stats.failed, 0u);
}

// Another IPC namespace's alert names it (docs/design.md §9).
TEST_F(NotifierTest, AnotherNamespacesTransitionNamesIt) {
  std::string program = script("ns.sh", "echo \"$IPCTRAIL_NAMESPACE\" >> \"$1\"\n");
  std::string output = (dir_ / "ns.txt").string();
  Notifier notifier({.command = {program, output}});
  AlertTransition in_container = warning_transition();
  in_container.namespace_inode = 4026532305;
  in_container.namespace_label = "docker:1badc0deaaaa";
  notifier.notify({in_container});
  notifier.wait_idle();
  EXPECT_EQ(read("ns.txt"), "docker:1badc0deaaaa\n");
}

TEST_F(NotifierTest, RunsOncePerTransitionInOrder) {
  std::string program = script("log.sh", "echo \"$IPCTRAIL_NEW_STATUS\" >> \"$1\"\n");
  std::string output = (dir_ / "log.txt").string();
  Notifier notifier({.command = {program, output}});
  AlertTransition raised = warning_transition();
  AlertTransition cleared = raised;
  cleared.old_status = AlertStatus::kWarning;
  cleared.new_status = AlertStatus::kClear;
  AlertTransition removed = cleared;
  removed.old_status = AlertStatus::kClear;
  removed.new_status = AlertStatus::kRemoved;
  notifier.notify({raised, cleared});
  notifier.notify({removed});
  notifier.wait_idle();
  EXPECT_EQ(read("log.txt"), "WARNING\nCLEAR\nREMOVED\n");
}

bool process_gone(pid_t pid) {
  // Killed and reaped, or killed and waiting for init to reap it.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(stat, text);
  if (text.empty()) return true;
  std::size_t close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
}

TEST_F(NotifierTest, AHangingScriptAndWhatItStartedAreKilledAtTheTimeout) {
  std::string program = script("hang.sh", "sleep 600 &\necho $! > \"$1\"\nwait\n");
  std::string pid_file = (dir_ / "child.pid").string();
  Notifier notifier({.command = {program, pid_file}, .timeout = milliseconds(300)});
  notifier.notify({warning_transition()});
  notifier.wait_idle();
  NotifierStats stats = notifier.stats();
  EXPECT_EQ(stats.started, 1u);
  EXPECT_EQ(stats.timed_out, 1u);
  EXPECT_EQ(stats.failed, 1u);
  pid_t child = std::stoi(read("child.pid"));
  bool gone = false;
  for (int i = 0; i < 500 && !gone; ++i) {
    gone = process_gone(child);
    if (!gone) std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_TRUE(gone) << "the script's child " << child << " survived";
}

TEST_F(NotifierTest, AMissingProgramIsLoggedAndTheNextOneStillRuns) {
  Notifier notifier({.command = {(dir_ / "absent").string()}});
  notifier.notify({warning_transition()});
  notifier.wait_idle();
  EXPECT_EQ(notifier.stats().failed, 1u);
  EXPECT_EQ(notifier.stats().started, 0u);

  std::string program = script("ok.sh", "touch \"$1\"\n");
  notifier.reconfigure({.command = {program, (dir_ / "ran").string()}});
  notifier.notify({warning_transition()});
  notifier.wait_idle();
  EXPECT_TRUE(std::filesystem::exists(dir_ / "ran"));
  EXPECT_EQ(notifier.stats().succeeded, 1u);
}

TEST_F(NotifierTest, ANonZeroExitIsAFailure) {
  Notifier notifier({.command = {script("fail.sh", "exit 3\n")}});
  notifier.notify({warning_transition()});
  notifier.wait_idle();
  EXPECT_EQ(notifier.stats().started, 1u);
  EXPECT_EQ(notifier.stats().failed, 1u);
}

TEST_F(NotifierTest, AFullQueueDropsAndCountsInsteadOfBlocking) {
  std::string program = script("slow.sh", "touch \"$1\"\nsleep 600\n");
  std::string started = (dir_ / "started").string();
  Notifier notifier(
      {.command = {program, started}, .timeout = milliseconds(500), .queue_limit = 2});
  notifier.notify({warning_transition()});
  while (!std::filesystem::exists(started)) std::this_thread::sleep_for(milliseconds(5));
  // One runs, two wait, seven are dropped; none of these calls waits for a program.
  notifier.notify(std::vector<AlertTransition>(9, warning_transition()));
  EXPECT_EQ(notifier.stats().dropped, 7u);
  notifier.wait_idle();
  EXPECT_EQ(notifier.stats().started, 3u);
  EXPECT_EQ(notifier.stats().timed_out, 3u);
}

// Waits (bounded) for a process to be gone.
bool ends(pid_t pid) {
  return testing::eventually([pid] { return process_gone(pid); });
}

TEST_F(NotifierTest, StoppingKillsARunningProgramAndWhatItStartedWithinTheGrace) {
  // Both ignore SIGTERM (an ignored signal stays ignored across exec): only SIGKILL ends them.
  std::string program = script("stubborn.sh",
                               "trap '' TERM\n"
                               "sleep 600 &\n"
                               "echo $! > \"$1.child\"\n"
                               "echo $$ > \"$1\"\n"
                               "wait\n");
  std::string pid_file = (dir_ / "program.pid").string();
  testing::LogCapture log;
  auto notifier = std::make_unique<Notifier>(
      NotifierOptions{.command = {program, pid_file}, .timeout = seconds(30)});
  notifier->notify({warning_transition()});
  ASSERT_TRUE(testing::eventually([&] { return !read("program.pid").empty(); }));
  pid_t started = std::stoi(read("program.pid"));
  pid_t child = std::stoi(read("program.pid.child"));

  auto before = std::chrono::steady_clock::now();
  notifier.reset();  // what the agent does on SIGTERM
  auto took = std::chrono::steady_clock::now() - before;
  // kStopGrace and then the kill; far below the program's 30 s timeout, which it used to wait for.
  EXPECT_LT(took, kStopGrace + seconds(5));
  EXPECT_TRUE(ends(started)) << "the program " << started << " survived";
  EXPECT_TRUE(ends(child)) << "what the program started (" << child << ") survived";
  EXPECT_NE(log.text().find("stopped with the agent"), std::string::npos) << log.text();
}

// The test process's own stdout and stderr go to a file while it lives: what a program could
// write to the agent's output past the notifier lands there.
class OwnOutputToFile {
 public:
  explicit OwnOutputToFile(const std::string& path)
      : saved_out_(::dup(STDOUT_FILENO)), saved_err_(::dup(STDERR_FILENO)) {
    std::fflush(nullptr);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~OwnOutputToFile() {
    std::fflush(nullptr);
    ::dup2(saved_out_, STDOUT_FILENO);
    ::dup2(saved_err_, STDERR_FILENO);
    ::close(saved_out_);
    ::close(saved_err_);
  }
  OwnOutputToFile(const OwnOutputToFile&) = delete;
  OwnOutputToFile& operator=(const OwnOutputToFile&) = delete;

 private:
  int saved_out_;
  int saved_err_;
};

TEST_F(NotifierTest, AFloodOfOutputKeepsABoundedHeadInTheLogAndNeverBlocksTheProgram) {
  std::string program = script("flood.sh",
                               "head -c 50000000 /dev/zero | tr '\\0' x\n"
                               "echo done >&2\n");
  std::string leaked = (dir_ / "agent-output").string();
  testing::LogCapture log;
  NotifierStats stats;
  {
    OwnOutputToFile redirect(leaked);
    Notifier notifier({.command = {program}, .timeout = seconds(60)});
    notifier.notify({warning_transition()});
    notifier.wait_idle();
    stats = notifier.stats();
  }
  EXPECT_EQ(std::filesystem::file_size(leaked), 0u) << "the program wrote to the agent's output";
  EXPECT_EQ(stats.succeeded, 1u) << log.text();  // it wrote everything: never blocked
  std::string text = log.text();
  EXPECT_LT(text.size(), kOutputHeadBytes + 1024) << text.substr(0, 2048);
  EXPECT_NE(text.find("it printed: \"" + std::string(kOutputHeadBytes, 'x') + "\" (and " +
                      std::to_string(50'000'000 + 5 - kOutputHeadBytes) + " more bytes, not kept)"),
            std::string::npos)
      << text.substr(0, 2048);
}

TEST_F(NotifierTest, WhatAProgramPrintsIsLoggedOnOneLineWithControlCharactersEscaped) {
  std::string program = script("chatty.sh",
                               "printf 'sent to oncall\\n[error] forged line\\033[31m\\n'\n"
                               "echo 'and a complaint' >&2\n"
                               "exit 4\n");
  testing::LogCapture log;
  Notifier notifier({.command = {program}});
  notifier.notify({warning_transition()});
  notifier.wait_idle();
  std::string text = log.text();
  EXPECT_NE(text.find("exited with status 4; it printed: \"sent to oncall\\n[error] forged "
                      "line\\x1b[31m\\nand a complaint\""),
            std::string::npos)
      << text;
  EXPECT_EQ(testing::count_of(text, "\n"), 1u) << text;
}

TEST_F(NotifierTest, OffDoesNothing) {
  Notifier notifier({});
  notifier.notify({warning_transition()});
  notifier.wait_idle();
  NotifierStats stats = notifier.stats();
  EXPECT_EQ(stats.started + stats.failed + stats.dropped, 0u);
}

}  // namespace
}  // namespace ipctrail
