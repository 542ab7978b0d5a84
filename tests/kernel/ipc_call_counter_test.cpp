// The BPF call counters against the real kernel: exact counts and failures for the test's own
// private IPC namespace, in each attach mode. The process that opens a counter is the agent, whose
// own calls are never counted: the calls to count are made by child processes.
#include "bpf/ipc_call_counter.h"

#include <SQLiteCpp/Database.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "bpf/ipc_call_collector.h"
#include "model/charts.h"
#include "tests/support/agent_process.h"
#include "tests/support/child_process.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/run_command.h"

namespace ipctrail {

void PrintTo(BpfMode mode, std::ostream* out) {
  *out << to_string(mode);
}

namespace {

class IpcCallCounting : public testing::IpcNamespaceTest,
                        public ::testing::WithParamInterface<BpfMode> {
 protected:
  // Attaches in the test's mode (after SetUp moved the process into its own namespace).
  std::unique_ptr<IpcCallCounter> attach() {
    IpcCallCounterOpening opening = IpcCallCounter::open({.mode = GetParam()});
    if (!opening.counter && GetParam() != BpfMode::kTracepoint &&
        (opening.failure.find("refused by the kernel") != std::string::npos ||
         opening.failure.find("this kernel has no kprobes") != std::string::npos)) {
      // Kernel policy (lockdown) or build (no kprobes), not missing privilege: there is nothing
      // this test can run.
      skipped_reason_ = opening.failure;
    }
    EXPECT_TRUE(opening.counter || !skipped_reason_.empty()) << opening.failure;
    return std::move(opening.counter);
  }
  std::string skipped_reason_;
};

#define ATTACH_OR_SKIP(counter)                                                   \
  auto counter = attach();                                                        \
  if (!counter && !skipped_reason_.empty())                                       \
    GTEST_SKIP() << to_string(GetParam()) << " unavailable: " << skipped_reason_; \
  ASSERT_TRUE(counter)

void semget_n(int times) {
  for (int i = 0; i < times; ++i) ASSERT_GE(::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600), 0);
}

using testing::in_child;

TEST_P(IpcCallCounting, CountsExactlyTheCallsOfItsNamespace) {
  ATTACH_OR_SKIP(counter);
  EXPECT_EQ(counter->attached_mode(), GetParam());
  EXPECT_GT(counter->syscall_tax().before_ns, 0) << "the tax is measured at every attach";
  EXPECT_GT(counter->syscall_tax().after_ns, 0);
  EXPECT_EQ(counter->read(), IpcCallCounts{}) << "a fresh namespace has made no call yet";

  constexpr int kCalls = 7;
  in_child([] {
    semget_n(kCalls);
    int msqid = create_queue();
    for (int i = 0; i < kCalls; ++i) send_message(msqid, 16);
    for (int i = 0; i < kCalls; ++i) create_segment(4096);
  });

  // Calls in another IPC namespace are not this namespace's, and take no room in the map.
  in_child([] {
    ASSERT_EQ(::unshare(CLONE_NEWIPC), 0) << std::strerror(errno);
    semget_n(5);
    ASSERT_GE(::msgget(IPC_PRIVATE, IPC_CREAT | 0600), 0);
  });

  IpcCallCounts expected;
  expected.calls_of(IpcCall::kSemget) = kCalls;
  expected.calls_of(IpcCall::kMsgget) = 1;
  expected.calls_of(IpcCall::kMsgsnd) = kCalls;
  expected.calls_of(IpcCall::kShmget) = kCalls;
  EXPECT_EQ(counter->read(), expected);
}

TEST_P(IpcCallCounting, CountsFailuresByErrno) {
  ATTACH_OR_SKIP(counter);
  set_kernel_value("sem", "250 32000 32 1");
  set_kernel_value("msgmnb", "100");
  in_child([] {
    int semid = create_semaphore_array(1);
    errno = 0;
    EXPECT_EQ(::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600), -1);
    EXPECT_EQ(errno, ENOSPC);

    int msqid = create_queue();
    send_message(msqid, 100);
    struct {
      long type = 1;
      char text[100] = {};
    } message;
    errno = 0;
    EXPECT_EQ(::msgsnd(msqid, &message, sizeof message.text, IPC_NOWAIT), -1);
    EXPECT_EQ(errno, EAGAIN);

    remove_semaphore_array(semid);
    errno = 0;
    EXPECT_EQ(::semctl(semid, 0, IPC_RMID), -1);  // already removed
    EXPECT_EQ(errno, EINVAL);
    ASSERT_GE(::msgrcv(msqid, &message, sizeof message.text, 0, IPC_NOWAIT), 0);
    errno = 0;
    EXPECT_EQ(::msgrcv(msqid, &message, sizeof message.text, 0, IPC_NOWAIT), -1);
    EXPECT_EQ(errno, ENOMSG);  // no class of its own: counted as other
  });

  IpcCallCounts expected;
  expected.calls_of(IpcCall::kSemget) = 2;
  expected.calls_of(IpcCall::kSemctl) = 2;
  expected.calls_of(IpcCall::kMsgget) = 1;
  expected.calls_of(IpcCall::kMsgsnd) = 2;
  expected.calls_of(IpcCall::kMsgrcv) = 2;
  expected.failures_of(IpcCall::kSemget, ErrnoClass::kENOSPC) = 1;
  expected.failures_of(IpcCall::kMsgsnd, ErrnoClass::kEAGAIN) = 1;
  expected.failures_of(IpcCall::kSemctl, ErrnoClass::kEINVAL) = 1;
  expected.failures_of(IpcCall::kMsgrcv, ErrnoClass::kOther) = 1;
  EXPECT_EQ(counter->read(), expected);
}

// The agent's collector calls semctl(SEM_INFO) and msgctl every tick: its own calls must not be
// counted, while another process's identical loop is.
TEST_P(IpcCallCounting, LeavesOutTheCallsOfTheProcessThatCounts) {
  ATTACH_OR_SKIP(counter);
  constexpr int kCalls = 50;
  seminfo info{};
  auto semctl_loop = [&info] {
    for (int i = 0; i < kCalls; ++i) {
      ASSERT_GE(::semctl(0, 0, SEM_INFO, &info), 0);
    }
  };
  semctl_loop();
  EXPECT_EQ(counter->read(), IpcCallCounts{}) << "the counting process's own calls were counted";
  in_child(semctl_loop);
  IpcCallCounts expected;
  expected.calls_of(IpcCall::kSemctl) = kCalls;
  EXPECT_EQ(counter->read(), expected);
}

INSTANTIATE_TEST_SUITE_P(AttachModes, IpcCallCounting,
                         ::testing::Values(BpfMode::kTracepoint, BpfMode::kFentry,
                                           BpfMode::kKprobe),
                         [](const auto& mode) { return std::string(to_string(mode.param)); });

using IpcCallAutoMode = testing::IpcNamespaceTest;

// `auto` takes the first mode that attaches, in the order fentry, kprobe, tracepoint: the two that
// tax only the IPC calls before the one that taxes every syscall on the host.
TEST_F(IpcCallAutoMode, PrefersFentryThenKprobeThenTracepoint) {
  BpfMode expected = BpfMode::kTracepoint;
  for (BpfMode mode : {BpfMode::kFentry, BpfMode::kKprobe}) {
    if (IpcCallCounter::open({.mode = mode}).counter) {
      expected = mode;
      break;
    }
  }
  IpcCallCounterOpening opening = IpcCallCounter::open({.mode = BpfMode::kAuto});
  ASSERT_TRUE(opening.counter) << opening.failure;
  EXPECT_EQ(opening.counter->attached_mode(), expected);
}

using IpcCallCharts = testing::IpcNamespaceTest;

const Chart* find_chart(const std::vector<Chart>& charts, std::string_view id) {
  for (const Chart& chart : charts) {
    if (chart.id == id) return &chart;
  }
  return nullptr;
}

std::optional<std::uint64_t> count_of(const Chart& chart, std::string_view dimension) {
  for (const Dimension& candidate : chart.dimensions) {
    if (candidate.name == dimension) return std::get<std::uint64_t>(candidate.value);
  }
  return std::nullopt;
}

// The whole path an agent tick takes: counters -> Sample -> charts of exact counts per tick.
TEST_F(IpcCallCharts, CountsAndErrorsOfTheTickReachTheCharts) {
  IpcCallCollector calls({.enabled = BpfEnabled::kOn});
  ASSERT_TRUE(calls.counting());
  Sample sample;
  calls.collect(sample);
  ASSERT_TRUE(sample.ipc_calls);
  EXPECT_FALSE(sample.ipc_calls->since_previous) << "a tick's counts need two readings";
  EXPECT_EQ(charts_of(sample).size(), 6u);

  set_kernel_value("sem", "250 32000 32 1");
  set_kernel_value("msgmnb", "100");
  in_child([] {
    semget_n(1);
    EXPECT_EQ(::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600), -1);
    int msqid = create_queue();
    send_message(msqid, 100);
    char message[sizeof(long) + 100] = {1};
    EXPECT_EQ(::msgsnd(msqid, message, 100, IPC_NOWAIT), -1);
  });
  calls.collect(sample);
  in_child([] { create_segment(4096); });
  Sample next;
  calls.collect(next);

  ASSERT_TRUE(sample.ipc_calls && sample.ipc_calls->since_previous);
  EXPECT_EQ(sample.ipc_calls->totals.calls_of(IpcCall::kSemget), 2u);
  EXPECT_EQ(sample.ipc_calls->totals.failures_of(IpcCall::kMsgsnd, ErrnoClass::kEAGAIN), 1u);
  std::vector<Chart> charts = charts_of(sample);
  ASSERT_EQ(charts.size(), 10u);
  const Chart* semaphores = find_chart(charts, chart_id::kSemaphoreCalls);
  const Chart* queues = find_chart(charts, chart_id::kQueueCalls);
  const Chart* errors = find_chart(charts, chart_id::kCallErrors);
  ASSERT_TRUE(semaphores && queues && errors && find_chart(charts, chart_id::kShmCalls));
  EXPECT_EQ(semaphores->units, "calls");
  EXPECT_EQ(count_of(*semaphores, "semget"), 2u);
  EXPECT_EQ(count_of(*semaphores, "semctl"), 0u);
  EXPECT_EQ(count_of(*queues, "msgget"), 1u);
  EXPECT_EQ(count_of(*queues, "msgsnd"), 2u);
  EXPECT_EQ(count_of(*queues, "msgrcv"), 0u);
  ASSERT_EQ(errors->dimensions.size(), 2u);
  EXPECT_EQ(count_of(*errors, "semget_ENOSPC"), 1u);
  EXPECT_EQ(count_of(*errors, "msgsnd_EAGAIN"), 1u);

  // The next tick holds only its own calls; a failure seen before stays a dimension, at 0.
  std::vector<Chart> next_charts = charts_of(next);
  ASSERT_EQ(next_charts.size(), 10u);
  EXPECT_EQ(count_of(*find_chart(next_charts, chart_id::kShmCalls), "shmget"), 1u);
  EXPECT_EQ(count_of(*find_chart(next_charts, chart_id::kSemaphoreCalls), "semget"), 0u);
  EXPECT_EQ(count_of(*find_chart(next_charts, chart_id::kQueueCalls), "msgsnd"), 0u);
  EXPECT_EQ(count_of(*find_chart(next_charts, chart_id::kCallErrors), "semget_ENOSPC"), 0u);
}

// `ipctrail sample --bpf on` counts over its window while another process keeps failing semget.
TEST_F(IpcCallCharts, SampleCommandShowsTheCallsOfItsWindow) {
  set_kernel_value("sem", "250 32000 32 1");
  create_semaphore_array(1);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (;;) {
      ::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
      ::usleep(1000);
    }
  }
  testing::CommandResult sample =
      testing::run_ipctrail("--log-level warn sample --bpf on --bpf-window 0.3 --format json");
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);

  ASSERT_EQ(sample.exit_code, 0) << sample.output;
  nlohmann::json json = nlohmann::json::parse(sample.output);
  const auto& charts = json["charts"];
  ASSERT_EQ(charts.size(), 10u) << sample.output;
  const auto& semaphore_calls = charts["system.ipc_semaphore_calls"];
  EXPECT_EQ(semaphore_calls["units"], "calls");
  EXPECT_TRUE(semaphore_calls["dimensions"]["semget"].is_number_integer());
  EXPECT_GT(semaphore_calls["dimensions"]["semget"].get<std::uint64_t>(), 0u);
  // The sample command's own collector called semctl(SEM_INFO) within the window: not counted.
  EXPECT_EQ(semaphore_calls["dimensions"]["semctl"].get<std::uint64_t>(), 0u) << sample.output;
  EXPECT_GT(charts["system.ipc_call_errors"]["dimensions"]["semget_ENOSPC"].get<std::uint64_t>(),
            0u);
  EXPECT_EQ(charts["system.message_queue_calls"]["dimensions"]["msgsnd"].get<std::uint64_t>(), 0u);
  EXPECT_GE(json["ipc_calls"]["failures_total"]["semget_ENOSPC"].get<std::uint64_t>(), 1u);
  EXPECT_GE(json["ipc_calls"]["window_ms"].get<std::int64_t>(), 300);
  EXPECT_TRUE(charts["system.ipc_semaphore_arrays"]["dimensions"]["arrays"].is_number_integer());
}

// The agent stores each tick's calls as integers, without its own (its collector calls
// semctl(SEM_INFO) every tick), and `query --step` adds them up to exactly the calls made.
TEST_F(IpcCallCharts, AgentStoresExactCountsThatQuerySums) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("ipctrail-calls-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string db = (dir / "history.db").string();
  std::string log = (dir / "agent.log").string();
  constexpr int kCalls = 7;
  {
    testing::AgentProcess agent(db, {"--interval", "100ms"}, log);
    auto ticks = [&] { return testing::committed_ticks(testing::read_text(log)).size(); };
    ASSERT_TRUE(testing::eventually([&] { return ticks() >= 2; })) << testing::read_text(log);
    ASSERT_TRUE(std::regex_search(
        testing::read_text(log),
        std::regex(R"(BPF attached \((fentry|kprobe|tracepoint)\); unrelated syscalls: )"
                   R"(\d+ ns -> \d+ ns \([+-]\d+%\))")))
        << testing::read_text(log);
    in_child([] {
      semget_n(kCalls);
      ASSERT_GE(::msgget(IPC_PRIVATE, IPC_CREAT | 0600), 0);
    });
    std::size_t after_calls = ticks();
    ASSERT_TRUE(testing::eventually([&] { return ticks() >= after_calls + 2; }));
    ASSERT_EQ(agent.stop(SIGTERM), 0) << testing::read_text(log);
  }
  std::string query = "query --since -1h --step 2h --format json --db " + db + " --chart ";
  testing::CommandResult semaphores = testing::run_ipctrail(query + "system.ipc_semaphore_calls");
  ASSERT_EQ(semaphores.exit_code, 0) << semaphores.output;
  nlohmann::json json = nlohmann::json::parse(semaphores.output);
  EXPECT_EQ(json["values"], "sum");
  std::map<std::string, nlohmann::json> sums;
  for (const auto& series : json["series"]) {
    ASSERT_EQ(series["points"].size(), 1u) << semaphores.output;
    sums[series["dimension"]] = series["points"][0][1];
  }
  EXPECT_EQ(sums["semget"], kCalls) << semaphores.output;
  EXPECT_EQ(sums["semctl"], 0) << "the agent's own semctl calls were counted";
  testing::CommandResult queues =
      testing::run_ipctrail(query + "system.message_queue_calls --dimension msgget");
  ASSERT_EQ(queues.exit_code, 0) << queues.output;
  EXPECT_EQ(nlohmann::json::parse(queues.output)["series"][0]["points"][0][1], 1) << queues.output;

  testing::CommandResult rate =
      testing::run_ipctrail(query + "system.ipc_semaphore_calls --dimension semget --rate");
  ASSERT_EQ(rate.exit_code, 0) << rate.output;
  nlohmann::json rate_json = nlohmann::json::parse(rate.output);
  EXPECT_EQ(rate_json["values"], "rate_per_second");
  const auto& per_second = rate_json["series"][0]["points"][0][1];
  EXPECT_TRUE(per_second.is_number_float() && per_second.get<double>() > 0) << rate.output;

  testing::CommandResult level_rate = testing::run_ipctrail(query + "system.ipc_semaphores --rate");
  EXPECT_EQ(level_rate.exit_code, 2) << "a rate of a level: " << level_rate.output;

  SQLite::Database file(db, SQLite::OPEN_READONLY);
  EXPECT_EQ(file.execAndGet("SELECT count(*) FROM history WHERE chart LIKE '%calls' "
                            "AND value IS NOT NULL AND typeof(value) != 'integer'")
                .getInt(),
            0);
  EXPECT_EQ(file.execAndGet("SELECT units FROM charts WHERE id = 'system.ipc_semaphore_calls'")
                .getString(),
            "calls");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ipctrail
