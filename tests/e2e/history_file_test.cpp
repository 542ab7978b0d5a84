// The history is never falsified, lost silently, or written somewhere it should not be: the agent
// as a process against a failing /proc, a second agent, paths it must refuse, a file deleted
// underneath it, and retention under queue churn.
#include <SQLiteCpp/Database.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include "tests/support/agent_process.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/queue_churn.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

namespace fs = std::filesystem;
using testing::eventually;

class HistoryFile : public testing::IpcNamespaceTest {
 protected:
  void SetUp() override {
    IpcNamespaceTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    dir_ = fs::temp_directory_path() / ("ipctrail-history-file-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "history.db").string();
    log_ = (dir_ / "agent.log").string();
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  std::string log_text() const { return testing::read_text(log_); }
  std::size_t committed() const { return testing::committed_ticks(log_text()).size(); }
  bool logged(const std::string& text) const { return log_text().find(text) != std::string::npos; }

  std::int64_t count(const std::string& sql) const {
    SQLite::Database db(db_, SQLite::OPEN_READONLY);
    return db.execAndGet(sql).getInt64();
  }

  fs::path dir_;
  std::string db_;
  std::string log_;
};

// The lowest free descriptor number of a process: with RLIMIT_NOFILE there, its next open fails.
int lowest_free_fd(pid_t pid) {
  fs::path fds = "/proc/" + std::to_string(pid) + "/fd";
  for (int fd = 0;; ++fd) {
    if (!fs::exists(fds / std::to_string(fd))) return fd;
  }
}

// Item 7 of issue 10: with its descriptors exhausted the agent cannot read /proc/sysvipc, and it
// recorded every live queue as removed.
TEST_F(HistoryFile, AnUnreadableProcIsAFaultNotARemoval) {
  for (int i = 0; i < 20; ++i) send_message(create_queue(), 10);
  testing::AgentProcess agent(db_, {"--interval", "100ms"}, log_);
  ASSERT_TRUE(eventually([&] { return committed() >= 3; })) << log_text();

  // The soft limit only: raising a hard limit again would need CAP_SYS_RESOURCE.
  rlimit normal{};
  ASSERT_EQ(::prlimit(agent.pid(), RLIMIT_NOFILE, nullptr, &normal), 0) << std::strerror(errno);
  rlimit tight{static_cast<rlim_t>(lowest_free_fd(agent.pid())), normal.rlim_max};
  ASSERT_EQ(::prlimit(agent.pid(), RLIMIT_NOFILE, &tight, nullptr), 0) << std::strerror(errno);
  ASSERT_TRUE(eventually([&] { return logged("Too many open files"); })) << log_text();
  std::size_t at_fault = committed();
  ASSERT_TRUE(eventually([&] { return committed() >= at_fault + 10; })) << log_text();
  ASSERT_EQ(::prlimit(agent.pid(), RLIMIT_NOFILE, &normal, nullptr), 0);
  ASSERT_TRUE(eventually([&] { return logged("message queues: available again"); })) << log_text();
  std::size_t recovered = committed();
  ASSERT_TRUE(eventually([&] { return committed() >= recovered + 3; }));
  EXPECT_EQ(agent.stop(SIGTERM), 0);

  std::string log = log_text();
  EXPECT_EQ(testing::count_of(log, "message queues: cannot read"), 1u) << log;
  EXPECT_EQ(testing::count_of(log, "message queues: available again"), 1u) << log;
  EXPECT_EQ(testing::count_of(log, "with a source unreadable"), 1u) << log;
  EXPECT_EQ(log.find(" 0 with a source unreadable"), std::string::npos) << log;
  // The 20 queues lived all along: 40 series, all open, no end marker.
  EXPECT_EQ(count("SELECT count(*) FROM series WHERE chart IN ('system.message_queue_message', "
                  "'system.message_queue_bytes')"),
            40);
  EXPECT_EQ(count("SELECT count(*) FROM series WHERE ended_ts IS NOT NULL"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM points WHERE value IS NULL"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM alert_transitions WHERE new_status = -2"), 0);
}

// Item 8: a second agent on the same file ran and ended the first one's queue series.
TEST_F(HistoryFile, ASecondAgentOnTheSameFileRefusesNamingTheFirst) {
  for (int i = 0; i < 5; ++i) create_queue();
  testing::AgentProcess first(db_, {"--interval", "100ms"}, log_);
  ASSERT_TRUE(eventually([&] { return committed() >= 3; })) << log_text();

  testing::CommandResult second =
      testing::run_ipctrail("agent --db " + db_ + " --interval 100ms --ticks 10");
  EXPECT_EQ(second.exit_code, 2) << second.output;
  EXPECT_NE(second.output.find("another ipctrail agent (pid " + std::to_string(first.pid())),
            std::string::npos)
      << second.output;

  // Readers are not writers: they work beside the running agent.
  testing::CommandResult query =
      testing::run_ipctrail("query --chart system.message_queue_message --since -1m --db " + db_);
  EXPECT_EQ(query.exit_code, 0) << query.output;
  EXPECT_GT(count("SELECT count(*) FROM spans"), 0);

  std::size_t before = committed();
  ASSERT_TRUE(eventually([&] { return committed() >= before + 3; }));
  EXPECT_EQ(first.stop(SIGTERM), 0);
  EXPECT_EQ(count("SELECT count(*) FROM series WHERE ended_ts IS NOT NULL"), 0);
}

struct Refusal {
  std::string what;
  std::string path;
  std::string expected;  // a part of the one-line error
  std::string remedy;    // and of the step it names
};

// Item 9: a path that can never be written was a transient fault: the agent ran on, dropping every
// tick, and exited 0; with /dev/null it created /dev/null-journal.
TEST_F(HistoryFile, PathsThatCanNeverBeWrittenAreRefusedAtStart) {
  fs::create_directories(dir_ / "a-directory");
  std::string read_only = (dir_ / "read-only.db").string();
  { std::ofstream touch(read_only); }
  fs::permissions(read_only, fs::perms::owner_read | fs::perms::group_read);
  std::string dangling = (dir_ / "dangling.db").string();
  fs::create_symlink(dir_ / "nowhere.db", dangling);
  std::string corrupt = (dir_ / "corrupt.db").string();
  ASSERT_EQ(
      testing::run_ipctrail("agent --db " + corrupt + " --interval 100ms --ticks 5").exit_code, 0);
  {
    std::fstream file(corrupt, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(4096);  // past page 1, which still says "SQLite format 3" and names the tables
    std::string garbage(static_cast<std::size_t>(fs::file_size(corrupt)) - 4096, 'Z');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  std::vector<Refusal> refusals = {
      {"a directory", (dir_ / "a-directory").string(), "is a directory", "database.path"},
      {"a device", "/dev/null", "is a character device", "database.path"},
      {"a /proc file", "/proc/version", "is on procfs", "database.path"},
      {"a read-only file", read_only, "is read-only", "chmod u+w"},
      {"a dangling symbolic link", dangling, "is a symbolic link", "database.path"},
      {"a damaged database", corrupt, "is damaged", ".recover"},
  };
  for (const Refusal& refusal : refusals) {
    SCOPED_TRACE(refusal.what);
    testing::CommandResult result =
        testing::run_ipctrail("agent --db " + refusal.path + " --interval 100ms --ticks 3");
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_NE(result.output.find(refusal.path + " " + refusal.expected), std::string::npos)
        << result.output;
    EXPECT_NE(result.output.find(refusal.remedy), std::string::npos) << result.output;
    for (const char* beside : {"-journal", "-wal", "-shm", ".lock"}) {
      if (refusal.path == corrupt) continue;  // a regular file: its lock may be made beside it
      EXPECT_FALSE(fs::exists(fs::symlink_status(refusal.path + beside)))
          << refusal.path + beside << " was created";
    }
  }
  EXPECT_FALSE(fs::exists(dir_ / "nowhere.db"));
  EXPECT_EQ(fs::file_size(read_only), 0u);
  // An agent that wrongly created them must not leave them for the next run.
  for (const char* beside : {"/dev/null-journal", "/dev/null-wal", "/dev/null-shm"}) {
    fs::remove(beside);
  }
}

// Item 10: a file deleted underneath the agent was not noticed, and every later tick was written
// into the unlinked inode, lost at exit.
TEST_F(HistoryFile, AFileDeletedWhileTheAgentRunsIsNoticedAndStartedAgain) {
  for (int i = 0; i < 5; ++i) create_queue();
  testing::AgentProcess agent(db_, {"--interval", "100ms"}, log_);
  ASSERT_TRUE(eventually([&] { return committed() >= 3; })) << log_text();
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db_ + suffix);
  ASSERT_TRUE(eventually([&] { return logged("was deleted or replaced"); })) << log_text();
  ASSERT_TRUE(eventually([&] { return fs::exists(db_); }));
  std::size_t after = committed();
  ASSERT_TRUE(eventually([&] { return committed() >= after + 5; }));
  EXPECT_EQ(agent.stop(SIGTERM), 0);
  EXPECT_EQ(testing::count_of(log_text(), "was deleted or replaced"), 1u) << log_text();
  SQLite::Database db(db_, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
  // Every tick committed after the new file began is in it.
  std::vector<std::int64_t> ticks = testing::committed_ticks(log_text());
  SQLite::Statement covered(db,
                            "SELECT count(*) FROM sampling_spans WHERE start_ts <= ?1 AND "
                            "last_ts >= ?1");
  covered.bind(1, ticks.back());
  ASSERT_TRUE(covered.executeStep());
  EXPECT_EQ(covered.getColumn(0).getInt(), 1);
  EXPECT_EQ(db.execAndGet("SELECT count(*) FROM series WHERE chart = "
                          "'system.message_queue_message' AND ended_ts IS NULL")
                .getInt(),
            5);
}

// Item 11: a link at the history path, or at its -wal name, was followed and written through.
TEST_F(HistoryFile, LinksAtTheHistoryPathAreRefusedAndTheirTargetsUntouched) {
  std::string victim = (dir_ / "someone-elses").string();
  { std::ofstream touch(victim); }
  ASSERT_EQ(::chown(victim.c_str(), 65534, 65534), 0);
  fs::create_symlink(victim, db_);
  testing::CommandResult linked =
      testing::run_ipctrail("agent --db " + db_ + " --interval 100ms --ticks 3");
  EXPECT_EQ(linked.exit_code, 2) << linked.output;
  EXPECT_NE(linked.output.find("is a symbolic link"), std::string::npos) << linked.output;
  EXPECT_EQ(fs::file_size(victim), 0u);

  fs::remove(db_);
  { std::ofstream(victim) << "precious\n"; }
  fs::create_symlink(victim, db_ + "-wal");
  testing::CommandResult wal =
      testing::run_ipctrail("agent --db " + db_ + " --interval 100ms --ticks 3");
  EXPECT_EQ(wal.exit_code, 2) << wal.output;
  EXPECT_NE(wal.output.find(db_ + "-wal is a symbolic link"), std::string::npos) << wal.output;
  EXPECT_EQ(testing::read_text(victim), "precious\n");
}

// Item 12: retention stalled for good behind one tick of more rows than a step, never deleted
// within the last hour (a 10 MB limit reached 84 MB), and left points of deleted series behind.
TEST_F(HistoryFile, TheSizeLimitHoldsUnderQueueChurnAndNoPointIsOrphaned) {
  constexpr std::uint64_t kMaxBytes = 2 << 20;
  std::string config = (dir_ / "ipctrail.yaml").string();
  {
    std::ofstream file(config);
    file << "database:\n  max_size: 2MiB\n";
  }
  std::uint64_t largest = 0;
  {
    testing::QueueChurn churn(400, 2, std::chrono::microseconds(0));
    testing::AgentProcess agent(db_, {"--config", config, "--interval", "100ms", "--ticks", "600"},
                                log_);
    while (agent.running()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (!fs::exists(db_) || committed() == 0) continue;
      // A reader beside the agent: the file's logical size, WAL included.
      SQLite::Database db(db_, SQLite::OPEN_READONLY, 1000);
      largest = std::max<std::uint64_t>(
          largest, static_cast<std::uint64_t>(db.execAndGet("PRAGMA page_count").getInt64() *
                                              db.execAndGet("PRAGMA page_size").getInt64()));
    }
    EXPECT_EQ(agent.stop(SIGTERM), 0);
    std::cout << "queues removed meanwhile: " << churn.removed() << "\n";
  }
  std::string log = log_text();
  ASSERT_EQ(testing::committed_ticks(log).size(), 600u) << log.substr(0, 2000);
  std::cout << "largest history seen: " << largest << " bytes, file at exit " << fs::file_size(db_)
            << " bytes, limit " << kMaxBytes << "\n";
  EXPECT_LE(largest, kMaxBytes * 5 / 4);
  EXPECT_LE(fs::file_size(db_), kMaxBytes * 5 / 4);
  std::cout << "series ended in the file at exit: "
            << count("SELECT count(*) FROM series WHERE ended_ts IS NOT NULL") << ", points "
            << count("SELECT count(*) FROM points") << "\n";
  EXPECT_GT(count("SELECT count(*) FROM series WHERE ended_ts IS NOT NULL"), 0)
      << "no churn reached the file";
  EXPECT_EQ(count("SELECT count(*) FROM points WHERE series_id NOT IN (SELECT id FROM series)"), 0);
  SQLite::Database db(db_, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
}

}  // namespace
}  // namespace ipctrail
