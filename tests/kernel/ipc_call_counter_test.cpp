// The BPF call counters against the real kernel: exact counts and failures for the test's own
// private IPC namespace, in each attach mode.
#include "bpf/ipc_call_counter.h"

#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "bpf/ipc_call_collector.h"
#include "model/charts.h"
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
    if (!opening.counter && GetParam() == BpfMode::kFentry &&
        opening.failure.find("refused by the kernel") != std::string::npos) {
      // Kernel policy (lockdown), not missing privilege: there is nothing this test can run.
      skipped_reason_ = opening.failure;
    }
    EXPECT_TRUE(opening.counter || !skipped_reason_.empty()) << opening.failure;
    return std::move(opening.counter);
  }
  std::string skipped_reason_;
};

#define ATTACH_OR_SKIP(counter)                                \
  auto counter = attach();                                     \
  if (!counter && !skipped_reason_.empty())                    \
    GTEST_SKIP() << "fentry unavailable: " << skipped_reason_; \
  ASSERT_TRUE(counter)

void semget_n(int times) {
  for (int i = 0; i < times; ++i) ASSERT_GE(::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600), 0);
}

TEST_P(IpcCallCounting, CountsExactlyTheCallsOfItsNamespace) {
  ATTACH_OR_SKIP(counter);
  EXPECT_EQ(counter->attached_mode(), GetParam());
  EXPECT_EQ(counter->read(), IpcCallCounts{}) << "a fresh namespace has made no call yet";

  constexpr int kCalls = 7;
  semget_n(kCalls);
  int msqid = create_queue();
  for (int i = 0; i < kCalls; ++i) send_message(msqid, 16);
  for (int i = 0; i < kCalls; ++i) create_segment(4096);

  // Calls in another IPC namespace are not this namespace's.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    bool ok = ::unshare(CLONE_NEWIPC) == 0;
    for (int i = 0; ok && i < 5; ++i) ok = ::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600) >= 0;
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

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

INSTANTIATE_TEST_SUITE_P(AttachModes, IpcCallCounting,
                         ::testing::Values(BpfMode::kTracepoint, BpfMode::kFentry),
                         [](const auto& mode) { return std::string(to_string(mode.param)); });

using IpcCallCharts = testing::IpcNamespaceTest;

const Chart* find_chart(const std::vector<Chart>& charts, std::string_view id) {
  for (const Chart& chart : charts) {
    if (chart.id == id) return &chart;
  }
  return nullptr;
}

std::optional<double> rate_of(const Chart& chart, std::string_view dimension) {
  for (const Dimension& candidate : chart.dimensions) {
    if (candidate.name == dimension) return std::get<double>(candidate.value);
  }
  return std::nullopt;
}

// The whole path an agent tick takes: counters -> Sample -> charts in calls/s.
TEST_F(IpcCallCharts, RatesAndErrorsReachTheCharts) {
  IpcCallCollector calls({.enabled = BpfEnabled::kOn});
  ASSERT_TRUE(calls.counting());
  Sample sample;
  calls.collect(sample);
  ASSERT_TRUE(sample.ipc_calls);
  EXPECT_FALSE(sample.ipc_calls->rates) << "a rate needs two readings";
  EXPECT_EQ(charts_of(sample).size(), 6u);

  set_kernel_value("sem", "250 32000 32 1");
  set_kernel_value("msgmnb", "100");
  semget_n(1);
  EXPECT_EQ(::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600), -1);
  int msqid = create_queue();
  send_message(msqid, 100);
  char message[sizeof(long) + 100] = {1};
  EXPECT_EQ(::msgsnd(msqid, message, 100, IPC_NOWAIT), -1);
  calls.collect(sample);

  ASSERT_TRUE(sample.ipc_calls && sample.ipc_calls->rates);
  EXPECT_EQ(sample.ipc_calls->totals.calls_of(IpcCall::kSemget), 2u);
  EXPECT_EQ(sample.ipc_calls->totals.failures_of(IpcCall::kMsgsnd, ErrnoClass::kEAGAIN), 1u);
  std::vector<Chart> charts = charts_of(sample);
  ASSERT_EQ(charts.size(), 10u);
  const Chart* semaphores = find_chart(charts, chart_id::kSemaphoreCalls);
  const Chart* queues = find_chart(charts, chart_id::kQueueCalls);
  const Chart* errors = find_chart(charts, chart_id::kCallErrors);
  ASSERT_TRUE(semaphores && queues && errors && find_chart(charts, chart_id::kShmCalls));
  EXPECT_EQ(semaphores->units, "calls/s");
  EXPECT_GT(rate_of(*semaphores, "semget").value_or(0), 0.0);
  EXPECT_EQ(rate_of(*semaphores, "semop"), 0.0);
  EXPECT_GT(rate_of(*queues, "msgsnd").value_or(0), 0.0);
  EXPECT_EQ(rate_of(*queues, "msgrcv"), 0.0);
  ASSERT_EQ(errors->dimensions.size(), 2u);
  EXPECT_GT(rate_of(*errors, "semget_ENOSPC").value_or(0), 0.0);
  EXPECT_GT(rate_of(*errors, "msgsnd_EAGAIN").value_or(0), 0.0);
}

// `ipctrail sample --bpf on` counts over its window while another process keeps failing semget.
TEST_F(IpcCallCharts, SampleCommandShowsCallRatesOverItsWindow) {
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
  EXPECT_EQ(charts["system.ipc_semaphore_calls"]["units"], "calls/s");
  EXPECT_GT(charts["system.ipc_semaphore_calls"]["dimensions"]["semget"].get<double>(), 0.0);
  EXPECT_GT(charts["system.ipc_call_errors"]["dimensions"]["semget_ENOSPC"].get<double>(), 0.0);
  EXPECT_EQ(charts["system.message_queue_calls"]["dimensions"]["msgsnd"].get<double>(), 0.0);
  EXPECT_GE(json["ipc_calls"]["failures_total"]["semget_ENOSPC"].get<std::uint64_t>(), 1u);
  EXPECT_TRUE(charts["system.ipc_semaphore_arrays"]["dimensions"]["arrays"].is_number_integer());
}

}  // namespace
}  // namespace ipctrail
