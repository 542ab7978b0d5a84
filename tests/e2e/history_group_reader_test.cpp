// A member of the history file's group reads it with plain `sqlite3 -readonly`, whether the agent
// runs or has stopped, as the packaged setup promises (README, "Reading the history as a user").
// The agent runs as its own user, the reader as another user in the agent's group; neither may
// write to the folder, as with /var/lib/ipctrail.
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/support/agent_process.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

namespace fs = std::filesystem;

class HistoryGroupReader : public ::testing::Test {
 protected:
  void SetUp() override {
    IPCTRAIL_REQUIRE_PRIVILEGE(::geteuid() == 0, "creating users needs root");
    std::string suffix = std::to_string(::getpid());
    group_ = "iptgrp" + suffix;
    writer_ = "iptwrite" + suffix;
    reader_ = "iptread" + suffix;
    ASSERT_EQ(shell("groupadd --system " + group_), 0);
    ASSERT_EQ(shell("useradd --system --no-create-home --gid " + group_ + " " + writer_), 0);
    ASSERT_EQ(
        shell("useradd --system --no-create-home --user-group --groups " + group_ + " " + reader_),
        0);
    const passwd* writer = ::getpwnam(writer_.c_str());
    ASSERT_NE(writer, nullptr);
    writer_identity_ = {writer->pw_uid, writer->pw_gid};

    dir_ = fs::temp_directory_path() / ("ipctrail-group-reader-" + suffix);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ASSERT_EQ(::chown(dir_.c_str(), writer->pw_uid, writer->pw_gid), 0);
    ASSERT_EQ(::chmod(dir_.c_str(), 0750), 0);  // as /var/lib/ipctrail
    db_ = (dir_ / "history.db").string();
  }

  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
    if (!reader_.empty()) shell("userdel " + reader_ + " 2>/dev/null");
    if (!writer_.empty()) shell("userdel " + writer_ + " 2>/dev/null");
    if (!group_.empty()) shell("groupdel " + group_ + " 2>/dev/null");
  }

  static int shell(const std::string& command) { return testing::run_shell(command).exit_code; }

  // What the reader's `sqlite3 -readonly` prints for `sql`, errors included.
  testing::CommandResult read_as_group_member(const std::string& sql) {
    return testing::run_shell("runuser -u " + reader_ + " -- sqlite3 -readonly " + db_ + " '" +
                              sql + "'");
  }

  // "0640 <group>" for the file.
  std::string mode_and_group(const std::string& path) {
    struct stat status {};
    if (::stat(path.c_str(), &status) != 0) return "missing";
    const group* owner = ::getgrgid(status.st_gid);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", status.st_mode & 07777);
    return std::string(mode) + " " + (owner ? owner->gr_name : std::to_string(status.st_gid));
  }

  std::string group_, writer_, reader_;
  testing::RunAs writer_identity_;
  fs::path dir_;
  std::string db_;
};

TEST_F(HistoryGroupReader, ReadsWithPlainReadonlyWhileRunningAndAfterStop) {
  std::string log = (dir_.parent_path() / (dir_.filename().string() + ".log")).string();
  testing::AgentProcess agent(db_, {"--interval", "100ms"}, log, writer_identity_);

  // Running: wait (bounded) until the reader sees the first committed tick.
  testing::CommandResult running;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  do {
    ASSERT_TRUE(agent.running()) << testing::read_text(log);
    running = read_as_group_member("SELECT count(*) > 0 FROM points");
    if (running.exit_code == 0 && running.output == "1\n") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(running.output, "1\n") << "while the agent runs";
  EXPECT_EQ(mode_and_group(db_), "0640 " + group_);

  ASSERT_EQ(agent.stop(SIGTERM), 0) << testing::read_text(log);
  fs::remove(log);

  // Stopped: the -wal and -shm files are kept, readable by the group and nobody else.
  EXPECT_EQ(mode_and_group(db_ + "-wal"), "0640 " + group_);
  EXPECT_EQ(mode_and_group(db_ + "-shm"), "0640 " + group_);
  testing::CommandResult stopped = read_as_group_member("SELECT count(*) > 0 FROM points");
  EXPECT_EQ(stopped.exit_code, 0) << stopped.output;
  EXPECT_EQ(stopped.output, "1\n") << "after the agent stopped";
  testing::CommandResult integrity = read_as_group_member("PRAGMA integrity_check");
  EXPECT_EQ(integrity.output, "ok\n");
}

}  // namespace
}  // namespace ipctrail
