// The agent's resident size (issue 13: under 16 MiB with 10,000 distinct processes seen; README
// "Memory"), guarded by what does not depend on timing or on the machine's load: which libraries
// the agent maps, and a generous bound on its heap once a tick has handed freed pages back. The
// figure itself, side by side with its reference, is bench/who_scale_bench.cpp's.
#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/sem.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "tests/support/agent_process.h"
#include "tests/support/bpf_agent_test.h"
#include "tests/support/prometheus_support.h"
#include "tests/support/short_lived_processes.h"

namespace ipctrail {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// The who tests' agent with BPF (start_bpf_agent), and others on a configuration of the test's.
class AgentMemory : public testing::BpfAgentTest {
 protected:
  // Starts the agent on `config` and waits for two committed ticks.
  void start_agent(const std::string& config) {
    agent_.reset();
    std::filesystem::remove(log_);
    std::ofstream(config_) << config;
    agent_ = std::make_unique<testing::AgentProcess>(
        db_, std::vector<std::string>{"--config", config_}, log_);
    ASSERT_TRUE(testing::eventually([&] {
      return !agent_->running() || testing::count_of(testing::read_text(log_), "committed") >= 2;
    }));
    ASSERT_TRUE(agent_->running()) << testing::read_text(log_);
  }

  std::string maps() {
    return testing::read_text("/proc/" + std::to_string(agent_->pid()) + "/maps");
  }
};

// libmicrohttpd links GnuTLS and seven more libraries, whose pages (about 2.3 MiB) stayed resident
// for the agent's whole life though /metrics is off by default: they are loaded when a server
// starts, and only then.
TEST_F(AgentMemory, LoadsTheHttpServerAndItsTlsLibrariesOnlyWhenMetricsAreServed) {
  start_agent("interval: 100ms\nbpf:\n  enabled: false\n");
  if (HasFatalFailure()) return;
  std::string without = maps();
  EXPECT_EQ(without.find("libmicrohttpd"), std::string::npos) << without;
  EXPECT_EQ(without.find("libgnutls"), std::string::npos) << without;
  ASSERT_EQ(agent_->stop(SIGTERM), 0);

  std::uint16_t port = testing::free_loopback_port();
  start_agent("interval: 100ms\nbpf:\n  enabled: false\nexport:\n  prometheus:\n    listen: " +
              fmt::format("127.0.0.1:{}\n", port));
  if (HasFatalFailure()) return;
  EXPECT_NE(testing::read_text(log_).find(fmt::format("serving Prometheus metrics on "
                                                      "http://127.0.0.1:{}/metrics",
                                                      port)),
            std::string::npos)
      << testing::read_text(log_);
  EXPECT_NE(maps().find("libmicrohttpd"), std::string::npos);
  EXPECT_EQ(agent_->stop(SIGTERM), 0);
}

constexpr int kProcesses = 10'000;
constexpr const char* kComm = "ipcmemory";
// The heap (anonymous resident memory) after the processes: about 2.4 MiB with none and 3.7 to
// 4.9 MiB after 10,000 (bench/who_scale_bench.cpp); the bound leaves room for a loaded machine and
// a different libc, and catches per-process state that is not bounded (10,000 processes at a few
// hundred bytes each) or a heap that is no longer trimmed.
constexpr std::uint64_t kMaxHeapKib = 8 * 1024;

int make_and_remove_an_array() {
  int id = ::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
  if (id < 0) return 1;
  return ::semctl(id, 0, IPC_RMID) == 0 ? 0 : 2;
}

TEST_F(AgentMemory, HeapStaysBoundedAfterTenThousandDistinctProcesses) {
  if (kSanitized) GTEST_SKIP() << "resident size means nothing under a sanitizer";
  ASSERT_NO_FATAL_FAILURE(start_bpf_agent());
  if (IsSkipped()) return;
  std::uint64_t before_kib = agent_->status_kib("RssAnon");

  testing::ShortLivedRun run =
      testing::run_short_lived_processes(kProcesses, kComm, make_and_remove_an_array);
  ASSERT_EQ(run.failed, 0);
  ASSERT_EQ(run.exit_codes, (std::map<int, int>{{0, kProcesses}}));
  auto stored = [&] {
    SQLite::Database db(db_, SQLite::OPEN_READONLY);
    db.setBusyTimeout(5000);
    return db
        .execAndGet(
            "SELECT coalesce(sum(count), 0) FROM process_calls WHERE call = 'semget' AND "
            "comm = '" +
            std::string(kComm) + "'")
        .getInt64();
  };
  ASSERT_TRUE(testing::eventually([&] { return stored() >= kProcesses; }));
  // Two more ticks: the last one read nothing new, and handed what it freed back.
  std::size_t committed = testing::count_of(testing::read_text(log_), "committed");
  ASSERT_TRUE(testing::eventually(
      [&] { return testing::count_of(testing::read_text(log_), "committed") >= committed + 2; }));
  std::uint64_t after_kib = agent_->status_kib("RssAnon");
  std::printf("agent heap (RssAnon): %ju KiB with no process, %ju KiB after %d (bound %ju KiB)\n",
              static_cast<std::uintmax_t>(before_kib), static_cast<std::uintmax_t>(after_kib),
              kProcesses, static_cast<std::uintmax_t>(kMaxHeapKib));
  EXPECT_LT(after_kib, kMaxHeapKib);
  EXPECT_EQ(agent_->stop(SIGTERM), 0);
}

}  // namespace
}  // namespace ipctrail
