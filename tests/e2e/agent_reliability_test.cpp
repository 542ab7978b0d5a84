// The agent as a process against the real kernel and real files: SIGKILL mid-write, a reader
// holding a snapshot, a full filesystem, and its memory over many ticks.
#include <SQLiteCpp/Database.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "agent/daemon/agent_loop.h"
#include "tests/support/agent_process.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/queue_churn.h"

namespace ipctrail {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using Churn = testing::QueueChurn;

class AgentReliability : public testing::IpcNamespaceTest {
 protected:
  void SetUp() override {
    IpcNamespaceTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    dir_ = fs::temp_directory_path() / ("ipctrail-agent-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "history.db").string();
    log_ = (dir_ / "agent.log").string();
  }
  void TearDown() override {
    if (!mounted_.empty()) ::umount2(mounted_.c_str(), MNT_DETACH);
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  std::string log_text() const { return testing::read_text(log_); }

  void expect_every_tick_in_a_span(const std::vector<std::int64_t>& ticks) {
    SQLite::Database db(db_, SQLite::OPEN_READONLY);
    SQLite::Statement covered(db,
                              "SELECT count(*) FROM sampling_spans WHERE start_ts <= ?1 AND "
                              "last_ts >= ?1");
    for (std::int64_t ts : ticks) {
      covered.reset();
      covered.bind(1, ts);
      ASSERT_TRUE(covered.executeStep());
      ASSERT_EQ(covered.getColumn(0).getInt(), 1) << "committed tick " << ts << " is missing";
    }
  }

  fs::path dir_;
  fs::path mounted_;
  std::string db_;
  std::string log_;
};

TEST_F(AgentReliability, SurvivesSigkillMidWriteTwentyTimes) {
  Churn churn(20);
  std::vector<std::int64_t> committed;
  std::mt19937 random(11);
  for (int round = 0; round < 20; ++round) {
    fs::remove(log_);
    {
      testing::AgentProcess agent(db_, {"--interval", "100ms"}, log_);
      ASSERT_TRUE(testing::eventually([&] {
        return testing::committed_ticks(log_text()).size() >= 3;
      })) << log_text();
      std::this_thread::sleep_for(std::chrono::milliseconds(random() % 200));
      EXPECT_EQ(agent.stop(SIGKILL), -SIGKILL);
    }
    std::vector<std::int64_t> round_ticks = testing::committed_ticks(log_text());
    committed.insert(committed.end(), round_ticks.begin(), round_ticks.end());
    SQLite::Database db(db_, SQLite::OPEN_READONLY);
    ASSERT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok") << "round " << round;
    // The first tick of each run restates every value: its rows are there.
    ASSERT_GT(db.execAndGet("SELECT count(*) FROM points WHERE ts = " +
                            std::to_string(round_ticks.front()))
                  .getInt(),
              0);
    expect_every_tick_in_a_span(committed);
    if (HasFatalFailure()) return;
  }
  SQLite::Database db(db_, SQLite::OPEN_READONLY);
  EXPECT_GE(db.execAndGet("SELECT count(*) FROM sampling_spans").getInt(), 20);
}

TEST_F(AgentReliability, AReaderHoldingASnapshotForTenSecondsDoesNotStopWrites) {
  Churn churn(10);
  testing::AgentProcess agent(db_, {"--interval", "100ms"}, log_);
  ASSERT_TRUE(
      testing::eventually([&] { return testing::committed_ticks(log_text()).size() >= 5; }));
  std::size_t before = testing::committed_ticks(log_text()).size();
  {
    SQLite::Database reader(db_, SQLite::OPEN_READONLY);
    reader.exec("BEGIN");
    std::int64_t last = reader.execAndGet("SELECT max(last_ts) FROM sampling_spans").getInt64();
    std::this_thread::sleep_for(10s);
    // Still the old snapshot: the read transaction really was open all along.
    EXPECT_EQ(reader.execAndGet("SELECT max(last_ts) FROM sampling_spans").getInt64(), last);
    reader.exec("COMMIT");
  }
  EXPECT_EQ(agent.stop(SIGTERM), 0);
  std::string log = log_text();
  std::vector<std::int64_t> committed = testing::committed_ticks(log);
  EXPECT_GE(committed.size(), before + 50) << log;
  EXPECT_EQ(testing::count_of(log, "cannot write history"), 0u) << log;
  EXPECT_NE(log.find(" 0 dropped"), std::string::npos) << log;
  expect_every_tick_in_a_span(committed);
  SQLite::Database db(db_, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
}

TEST_F(AgentReliability, FullFilesystemIsLoggedOnceAndWritesResumeWhenSpaceReturns) {
  bool private_mounts = ::unshare(CLONE_NEWNS) == 0 &&
                        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
  IPCTRAIL_REQUIRE_PRIVILEGE(private_mounts, "cannot make a private mount namespace");
  fs::path small = dir_ / "small";
  fs::create_directories(small);
  ASSERT_EQ(::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=2m"), 0);
  mounted_ = small;
  db_ = (small / "history.db").string();
  {
    Churn churn(50);
    testing::AgentProcess agent(db_, {"--interval", "100ms"}, log_);
    ASSERT_TRUE(
        testing::eventually([&] { return testing::committed_ticks(log_text()).size() >= 5; }));

    fs::path filler = small / "filler";
    {
      std::ofstream fill(filler, std::ios::binary);
      std::string block(4096, 'x');
      while (fill.write(block.data(), static_cast<std::streamsize>(block.size()))) fill.flush();
    }
    ASSERT_TRUE(testing::eventually([&] {
      return log_text().find("cannot write history") != std::string::npos;
    })) << log_text();
    std::this_thread::sleep_for(2s);  // many more ticks fail meanwhile
    EXPECT_TRUE(agent.running());
    EXPECT_EQ(testing::count_of(log_text(), "cannot write history"), 1u) << log_text();

    fs::remove(filler);
    ASSERT_TRUE(testing::eventually([&] {
      return log_text().find("work again") != std::string::npos;
    })) << log_text();
    std::size_t after_recovery = testing::committed_ticks(log_text()).size();
    ASSERT_TRUE(testing::eventually(
        [&] { return testing::committed_ticks(log_text()).size() >= after_recovery + 5; }));
    EXPECT_EQ(agent.stop(SIGTERM), 0);
  }
  expect_every_tick_in_a_span(testing::committed_ticks(log_text()));
  SQLite::Database db(db_, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
}

// Whether process `pid` is stopped (state T in /proc/<pid>/stat).
bool stopped(pid_t pid) {
  std::string stat = testing::read_text("/proc/" + std::to_string(pid) + "/stat");
  std::size_t state = stat.rfind(") ");
  return state != std::string::npos && stat[state + 2] == 'T';
}

// A tick that overruns its interval (here: the agent held stopped for three intervals, twice) is
// said once as a warning that names the interval; the later ones are counted in the stop line.
TEST_F(AgentReliability, LateTicksAreSaidOnceAndCounted) {
  testing::AgentProcess agent(db_, {"--interval", "100ms"}, log_);
  for (int pause = 1; pause <= 2; ++pause) {
    std::size_t before = testing::committed_ticks(log_text()).size();
    ASSERT_TRUE(testing::eventually([&] {
      return testing::committed_ticks(log_text()).size() >= before + 2;
    })) << log_text();
    ASSERT_EQ(::kill(agent.pid(), SIGSTOP), 0);
    ASSERT_TRUE(testing::eventually([&] { return stopped(agent.pid()); }));
    std::this_thread::sleep_for(300ms);  // the pause itself: three intervals with no tick
    ASSERT_EQ(::kill(agent.pid(), SIGCONT), 0);
  }
  std::size_t resumed = testing::committed_ticks(log_text()).size();
  ASSERT_TRUE(testing::eventually(
      [&] { return testing::committed_ticks(log_text()).size() >= resumed + 2; }));
  EXPECT_EQ(agent.stop(SIGTERM), 0);
  std::string log = log_text();
  EXPECT_EQ(testing::count_of(log, "longer than the 100ms interval"), 1u) << log;
  std::size_t stop_line = log.find("stopped: ");
  ASSERT_NE(stop_line, std::string::npos) << log;
  std::size_t skipped_at = log.find(" skipped", stop_line);
  std::size_t number_at = log.rfind(", ", skipped_at) + 2;
  EXPECT_GE(std::stoul(log.substr(number_at, skipped_at - number_at)), 4u) << log;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// Ten thousand ticks at 1ms: below the 100ms that the command line and the config accept, so
// the agent's loop runs in a child of the test (started before the churn thread). A tick's
// transaction holds up to the page cache's bound for a moment (SQLite releases it after the
// commit), so single readings spike by a few hundred KiB; a leak raises the floor instead: the
// lowest reading of each window of 1,000 ticks. Over 8,000 ticks the floor may rise by 128 KiB,
// which a leak of 16 bytes a tick exceeds.
TEST_F(AgentReliability, ResidentSizeStaysFlatOverTenThousandTicks) {
  if (kSanitized) GTEST_SKIP() << "resident size means nothing under a sanitizer";
  AgentOptions options;
  options.db_path = db_;
  options.interval = 1ms;
  options.max_ticks = 10'000;
  testing::AgentProcess agent(
      [&options] {
        auto logger = spdlog::stderr_logger_mt("ipctrail");
        logger->set_level(spdlog::level::debug);
        spdlog::set_default_logger(logger);
        return run_agent(options);
      },
      log_);
  Churn churn(30);
  constexpr std::uint64_t kWindow = 1000;
  std::map<std::uint64_t, std::uint64_t> floor_kib;  // by window (ticks / kWindow)
  std::uint64_t peak_kib = 0;
  while (agent.running()) {
    std::uint64_t rss = agent.rss_kib();
    std::uint64_t ticks = testing::committed_ticks(log_text()).size();
    if (rss != 0 && ticks >= kWindow) {  // the first 1,000 include loading BPF (BTF: ~17 MiB)
      auto [entry, added] = floor_kib.try_emplace(ticks / kWindow, rss);
      if (!added) entry->second = std::min(entry->second, rss);
      peak_kib = std::max(peak_kib, rss);
    }
    std::this_thread::sleep_for(100ms);
  }
  std::uint64_t ticks = testing::committed_ticks(log_text()).size();
  ASSERT_GE(ticks, 10'000u) << log_text().substr(0, 2000);
  ASSERT_TRUE(floor_kib.count(1) && floor_kib.count(9)) << "no reading in a window";
  std::cout << "agent resident size, lowest per 1,000 ticks (KiB):";
  for (auto [window, kib] : floor_kib) std::cout << ' ' << kib;
  std::cout << "; highest " << peak_kib << " KiB\n";
  EXPECT_LE(floor_kib[9], floor_kib[1] + 128) << "resident size grows with ticks";
  EXPECT_LT(peak_kib, 16u * 1024u);
}

}  // namespace
}  // namespace ipctrail
