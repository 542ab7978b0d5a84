// Issue 13's scale requirement, end to end: a fork bomb of 5,000 short-lived processes that each
// call semget once, watched by the real agent with BPF attached in a private IPC namespace, loses
// no count (every process's call is in process_calls, the namespace's call charts agree, nothing
// is counted as lost) and grows the history by at most 200 bytes a process.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <map>

#include "model/time_parse.h"
#include "storage/history_reader.h"
#include "tests/support/bpf_agent_test.h"
#include "tests/support/short_lived_processes.h"

namespace ipctrail {
namespace {

constexpr int kProcesses = 5000;
// semmni: the first half of the processes each make an array (a lifecycle event each, and an
// incarnation in the inventory), the second half fail with ENOSPC (counted, never an event).
constexpr int kArrays = kProcesses / 2;
constexpr double kMaxBytesPerProcess = 200;
constexpr const char* kComm = "ipcforkbomb";

// Exit codes of a fork bomb child.
enum ChildOutcome { kMadeArray = 0, kNoSpace = 1, kOtherFailure = 2 };

int semget_once() {
  if (::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600) >= 0) return kMadeArray;
  return errno == ENOSPC ? kNoSpace : kOtherFailure;
}

class WhoForkBomb : public testing::BpfAgentTest {
 protected:
  std::int64_t query_int(const std::string& sql) {
    SQLite::Database db(db_, SQLite::OPEN_READONLY);
    db.setBusyTimeout(5000);
    return db.execAndGet(sql).getInt64();
  }

  // The calls of every tick in [since, until] of one call chart dimension, from the charts.
  std::int64_t chart_total(const std::string& chart, const std::string& dimension,
                           std::int64_t since_ms, std::int64_t until_ms) {
    HistoryReader reader(db_);
    std::int64_t total = 0;
    for (const SeriesSums& series :
         reader.step_sums(chart, dimension, since_ms, until_ms, until_ms - since_ms + 1)) {
      for (const StepSum& step : series.steps) total += step.sum.value_or(0);
    }
    return total;
  }
};

TEST_F(WhoForkBomb, FiveThousandShortLivedSemgetCallersLoseNoCountAndCostLittleHistory) {
  set_kernel_value("sem", "250 32000 32 " + std::to_string(kArrays));

  // The file as the agent leaves it after its first ticks (schema, charts, limits): the growth
  // is measured from there, with the agent stopped so that nothing is in the write-ahead log.
  ASSERT_NO_FATAL_FAILURE(start_bpf_agent());
  if (IsSkipped()) return;
  ASSERT_EQ(agent_->stop(SIGTERM), 0);
  std::uintmax_t before = testing::checkpointed_size(db_);

  ASSERT_NO_FATAL_FAILURE(start_bpf_agent());
  std::int64_t since = unix_now_ms();
  testing::ShortLivedRun bomb = testing::run_short_lived_processes(kProcesses, kComm, semget_once);
  ASSERT_EQ(bomb.failed, 0);
  ASSERT_EQ(bomb.exit_codes,
            (std::map<int, int>{{kMadeArray, kArrays}, {kNoSpace, kProcesses - kArrays}}));

  const std::string per_process =
      "SELECT coalesce(sum(count), 0) FROM process_calls WHERE call = 'semget' AND comm = '" +
      std::string(kComm) + "'";
  const std::string creators =
      "SELECT count(*) FROM objects WHERE kind = 'sem' AND creator_comm = '" + std::string(kComm) +
      "'";
  bool stored = testing::eventually(
      [&] { return query_int(per_process) >= kProcesses && query_int(creators) >= kArrays; });
  ASSERT_TRUE(agent_->running()) << testing::read_text(log_);
  ASSERT_EQ(agent_->stop(SIGTERM), 0);
  std::int64_t until = unix_now_ms();
  EXPECT_TRUE(stored) << "the history never held every call and creator";

  // Every process's call, each under its own pid, with its outcome.
  EXPECT_EQ(query_int(per_process), kProcesses);
  EXPECT_EQ(query_int(per_process + " AND errno = 'ENOSPC'"), kProcesses - kArrays);
  EXPECT_EQ(query_int(per_process + " AND errno IS NULL"), kArrays);
  EXPECT_EQ(query_int("SELECT count(DISTINCT pid) FROM process_calls WHERE comm = '" +
                      std::string(kComm) + "'"),
            kProcesses);
  // The namespace's call charts count the same calls (the test process made no semget).
  EXPECT_EQ(chart_total("system.ipc_semaphore_calls", "semget", since - 1000, until), kProcesses);
  EXPECT_EQ(chart_total("system.ipc_call_errors", "semget_ENOSPC", since - 1000, until),
            kProcesses - kArrays);
  // Nothing lost by the kernel's bounded structures, and every array's creator named: however the
  // ticks fall, the 2,500 creation events fit the ring buffer (about 3,600 between two readings;
  // failures send none) and the 5,000 processes the per-process map (16,384 keys a tick).
  EXPECT_EQ(query_int("SELECT coalesce(sum(events_lost), 0) FROM process_losses"), 0);
  EXPECT_EQ(query_int("SELECT coalesce(sum(calls_not_attributed), 0) FROM process_losses"), 0);
  EXPECT_EQ(query_int(creators), kArrays);

  std::uintmax_t after = testing::checkpointed_size(db_);
  double bytes_per_process = static_cast<double>(after - before) / kProcesses;
  std::printf(
      "fork bomb: %d processes (%d made an array, %d ENOSPC), history %ju -> %ju bytes: "
      "%.1f bytes a process (limit %.0f)\n",
      kProcesses, kArrays, kProcesses - kArrays, before, after, bytes_per_process,
      kMaxBytesPerProcess);
  RecordProperty("bytes_per_process", std::to_string(bytes_per_process));
  EXPECT_LE(bytes_per_process, kMaxBytesPerProcess);
}

}  // namespace
}  // namespace ipctrail
