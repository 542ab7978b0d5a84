// BPF counts of every IPC namespace (`namespaces: all`, docs/design.md §9), against the real kernel
// with the real programs: each other namespace's calls and failures exactly, apart from each other
// and from the agent's own namespace, whose counts stay what they were; a full namespace map is
// counted; and the programs' recursion misses are read and shown. The namespaces are held by
// long-lived processes (tests/support/namespace_holder.h); the calls are made by children that
// enter them, since the test process is the agent, whose own calls are never counted.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "bpf/ipc_call_counter.h"
#include "tests/support/agent_process.h"
#include "tests/support/child_process.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/namespace_holder.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

using testing::in_child;
using testing::NamespaceHolder;

// Moves the calling thread into the IPC namespace of `pid`.
void enter_namespace_of(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/ns/ipc";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
  ASSERT_EQ(::setns(fd, CLONE_NEWIPC), 0) << std::strerror(errno);
  ::close(fd);
}

// Runs `calls` in a child inside the IPC namespace of `pid`.
template <typename Calls>
void in_namespace_of(pid_t pid, Calls calls) {
  in_child([&] {
    enter_namespace_of(pid);
    calls();
  });
}

// semget(IPC_PRIVATE) `times` times, each failing with ENOSPC (the namespace's semmni is used up).
void semget_failing(int times) {
  for (int i = 0; i < times; ++i) {
    errno = 0;
    EXPECT_EQ(::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600), -1);
    EXPECT_EQ(errno, ENOSPC);
  }
}

// One queue, then `sent` messages of 100 bytes with IPC_NOWAIT into a namespace whose msgmnb is
// 100: the first fits, the others fail with EAGAIN.
void fill_queue(int sent) {
  int msqid = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  ASSERT_GE(msqid, 0);
  struct {
    long type = 1;
    char text[100] = {};
  } message;
  for (int i = 0; i < sent; ++i) {
    errno = 0;
    int result = ::msgsnd(msqid, &message, sizeof message.text, IPC_NOWAIT);
    if (i == 0) {
      EXPECT_EQ(result, 0) << std::strerror(errno);
    } else {
      EXPECT_EQ(result, -1);
      EXPECT_EQ(errno, EAGAIN);
    }
  }
}

void semget_n(int times) {
  for (int i = 0; i < times; ++i) ASSERT_GE(::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600), 0);
}

constexpr int kFailedSemgets = 5;
constexpr int kMsgsnds = 3;  // 1 sent, 2 EAGAIN
constexpr int kOwnSemgets = 7;

IpcCallCounts full_namespace_counts() {
  IpcCallCounts expected;
  expected.calls_of(IpcCall::kSemget) = kFailedSemgets;
  expected.failures_of(IpcCall::kSemget, ErrnoClass::kENOSPC) = kFailedSemgets;
  return expected;
}

IpcCallCounts queue_namespace_counts() {
  IpcCallCounts expected;
  expected.calls_of(IpcCall::kMsgget) = 1;
  expected.calls_of(IpcCall::kMsgsnd) = kMsgsnds;
  expected.failures_of(IpcCall::kMsgsnd, ErrnoClass::kEAGAIN) = kMsgsnds - 1;
  return expected;
}

IpcCallCounts own_namespace_counts() {
  IpcCallCounts expected;
  expected.calls_of(IpcCall::kSemget) = kOwnSemgets;
  return expected;
}

// The two namespaces of every test: one whose semmni (2) is used up, one whose msgmnb is 100.
NamespaceHolder full_namespace() {
  return NamespaceHolder({.kernel_values = {{"sem", "250 32000 32 2"}},
                          .semaphore_arrays = {1, 1},
                          .queues = {},
                          .segments = {}});
}
NamespaceHolder queue_namespace() {
  return NamespaceHolder(
      {.kernel_values = {{"msgmnb", "100"}}, .semaphore_arrays = {}, .queues = {}, .segments = {}});
}

// The calls of every test: known failures in the two other namespaces, known calls in the own.
void make_the_calls(const NamespaceHolder& full, const NamespaceHolder& queue) {
  in_namespace_of(full.pid(), [] { semget_failing(kFailedSemgets); });
  in_namespace_of(queue.pid(), [] { fill_queue(kMsgsnds); });
  in_child([] { semget_n(kOwnSemgets); });
}

std::uint32_t inode_of(const NamespaceHolder& holder) {
  return static_cast<std::uint32_t>(holder.inode());
}

std::uint32_t inode_of_self() {
  return static_cast<std::uint32_t>(testing::ipc_namespace_inode("self"));
}

class EveryNamespaceCounting : public testing::IpcNamespaceTest {
 protected:
  std::unique_ptr<IpcCallCounter> attach(IpcCallCounterOptions options) {
    IpcCallCounterOpening opening = IpcCallCounter::open(options);
    EXPECT_TRUE(opening.counter) << opening.failure;
    return std::move(opening.counter);
  }
};

TEST_F(EveryNamespaceCounting, EachNamespacesCallsAndFailuresAreCountedApartExactly) {
  NamespaceHolder full = full_namespace();
  NamespaceHolder queue = queue_namespace();
  ASSERT_TRUE(full.ok() && queue.ok());
  auto counter = attach({.every_namespace = true});
  ASSERT_TRUE(counter);
  ASSERT_TRUE(counter->counts_every_namespace());

  make_the_calls(full, queue);
  // The agent's own calls inside another namespace (its sampler's semctl) count nowhere.
  int own = ::open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(own, 0);
  enter_namespace_of(full.pid());
  seminfo info{};
  for (int i = 0; i < 3; ++i) EXPECT_GE(::semctl(0, 0, SEM_INFO, &info), 0);
  ASSERT_EQ(::setns(own, CLONE_NEWIPC), 0) << std::strerror(errno);
  ::close(own);

  // (Other namespaces of the host may have made calls meanwhile: only these two are known.)
  NamespaceCallCounts others;
  counter->read_processes(&others);
  EXPECT_EQ(others[inode_of(full)], full_namespace_counts());
  EXPECT_EQ(others[inode_of(queue)], queue_namespace_counts());
  EXPECT_FALSE(others.contains(inode_of_self())) << "the own namespace is counted apart";
  EXPECT_EQ(counter->read(), own_namespace_counts()) << "the own namespace's counts moved";
  EXPECT_EQ(counter->losses(), IpcCallLosses{});

  // Each reading gives the calls since the previous one: nothing was made since.
  NamespaceCallCounts later;
  counter->read_processes(&later);
  EXPECT_FALSE(later.contains(inode_of(full)));
  EXPECT_FALSE(later.contains(inode_of(queue)));
}

// `namespaces: own`: the programs count the own namespace as before, and nothing of the others.
TEST_F(EveryNamespaceCounting, WithOnlyTheOwnNamespaceTheOthersAreNotCounted) {
  NamespaceHolder full = full_namespace();
  NamespaceHolder queue = queue_namespace();
  ASSERT_TRUE(full.ok() && queue.ok());
  auto counter = attach({});
  ASSERT_TRUE(counter);
  EXPECT_FALSE(counter->counts_every_namespace());

  make_the_calls(full, queue);
  NamespaceCallCounts others;
  counter->read_processes(&others);
  EXPECT_TRUE(others.empty());
  EXPECT_EQ(counter->read(), own_namespace_counts());
  EXPECT_EQ(counter->losses().other_namespace_calls, 0u);
}

// The map holds a bounded number of namespaces per reading; the calls of namespaces beyond it are
// counted as lost, never silently dropped.
TEST_F(EveryNamespaceCounting, CallsBeyondTheNamespaceMapAreCountedAsLost) {
  NamespaceHolder full = full_namespace();
  NamespaceHolder queue = queue_namespace();
  NamespaceHolder third = queue_namespace();
  ASSERT_TRUE(full.ok() && queue.ok() && third.ok());
  auto counter = attach({.every_namespace = true, .namespace_map_entries = 2});
  ASSERT_TRUE(counter);

  make_the_calls(full, queue);
  in_namespace_of(third.pid(), [] { fill_queue(kMsgsnds); });
  NamespaceCallCounts others;
  counter->read_processes(&others);
  // Three namespaces called within one reading and the map holds two: one at least found it full.
  // Each of the three is exact or missing whole (other namespaces of the host may have taken the
  // room), and the calls of those missing are in the losses.
  EXPECT_LE(others.size(), 2u);
  std::uint64_t missing = 0;
  for (auto [holder, expected] :
       {std::pair{&full, full_namespace_counts()}, std::pair{&queue, queue_namespace_counts()},
        std::pair{&third, queue_namespace_counts()}}) {
    auto counted = others.find(inode_of(*holder));
    if (counted == others.end()) {
      for (std::uint64_t calls : expected.calls) missing += calls;
    } else {
      EXPECT_EQ(counted->second, expected);
    }
  }
  EXPECT_GT(missing, 0u);
  EXPECT_GE(counter->losses().other_namespace_calls, missing);
  EXPECT_EQ(counter->read(), own_namespace_counts());
}

// The kernel's recursion misses of the attached programs are read; none in a normal run, and the
// count is shown by `sample --bpf` (JSON and table) and in the Prometheus exposition.
TEST_F(EveryNamespaceCounting, RecursionMissesAreReadAndShown) {
  {
    auto counter = attach({});
    ASSERT_TRUE(counter);
    in_child([] { semget_n(3); });
    EXPECT_EQ(counter->losses().recursion_misses, 0u);
  }
  testing::CommandResult json =
      testing::run_ipctrail("--log-level warn sample --bpf on --bpf-window 0.1 --format json");
  ASSERT_EQ(json.exit_code, 0) << json.output;
  nlohmann::json calls = nlohmann::json::parse(json.output)["ipc_calls"];
  EXPECT_EQ(calls["calls_lost"]["recursion"], 0) << json.output;
  EXPECT_EQ(calls["calls_lost"]["namespace_map_full"], 0) << json.output;
  testing::CommandResult table =
      testing::run_ipctrail("--log-level warn sample --bpf on --bpf-window 0.1");
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("calls not counted: 0 skipped by the kernel"), std::string::npos)
      << table.output;
  testing::CommandResult metrics = testing::run_ipctrail(
      "--log-level warn sample --bpf on --bpf-window 0.1 --format prometheus");
  ASSERT_EQ(metrics.exit_code, 0) << metrics.output;
  EXPECT_NE(metrics.output.find("\nipctrail_bpf_calls_lost_total{reason=\"recursion\"} 0\n"),
            std::string::npos)
      << metrics.output;
}

// The agent with `namespaces: all` stores each namespace's exact calls and failures in its own
// series, and its own namespace's as before (the sampler's semctl calls in every namespace count
// nowhere).
class EveryNamespaceAgent : public testing::IpcNamespaceTest {
 protected:
  void SetUp() override {
    testing::IpcNamespaceTest::SetUp();
    dir_ = std::filesystem::temp_directory_path() /
           ("ipctrail-bpf-namespaces-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "ipctrail.yaml")
        << "interval: 100ms\nnamespaces: all\nnamespaces_rescan: 1s\nbpf:\n  enabled: true\n"
        << "export:\n  textfile:\n    path: " << (dir_ / "ipctrail.prom").string() << "\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string db() const { return (dir_ / "history.db").string(); }
  std::string log() const { return (dir_ / "agent.log").string(); }
  std::size_t ticks() const { return testing::committed_ticks(testing::read_text(log())).size(); }

  // Every dimension's sum over the whole history of `chart` in `namespace_choice`.
  std::map<std::string, std::int64_t> sums(const std::string& chart,
                                           const std::string& namespace_choice) {
    testing::CommandResult query =
        testing::run_ipctrail("query --since -1h --step 2h --format json --db " + db() +
                              " --chart " + chart + " --namespace " + namespace_choice);
    EXPECT_EQ(query.exit_code, 0) << query.output;
    std::map<std::string, std::int64_t> found;
    if (query.exit_code != 0) return found;
    nlohmann::json json = nlohmann::json::parse(query.output);
    for (const auto& series : json["series"]) {
      for (const auto& point : series["points"]) {
        found[series["dimension"].get<std::string>()] += point[1].get<std::int64_t>();
      }
    }
    return found;
  }

  // The value of the last tick's exposition series `name{labels` of the namespace `inode`: its
  // label is its owner's name, "ipc:[<inode>]" or, shared by two, both (README "Prometheus").
  std::string exported(const std::string& name_and_labels, std::uint64_t inode) {
    std::istringstream lines(testing::read_text((dir_ / "ipctrail.prom").string()));
    std::string marker = "ipc:[" + std::to_string(inode) + "]\"";
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with(name_and_labels + ",ipc_namespace=") &&
          line.find(marker) != std::string::npos) {
        return line.substr(line.rfind(' ') + 1);
      }
    }
    return "";
  }

  std::filesystem::path dir_;
};

TEST_F(EveryNamespaceAgent, StoresEachNamespacesExactCounts) {
  NamespaceHolder full = full_namespace();
  NamespaceHolder queue = queue_namespace();
  ASSERT_TRUE(full.ok() && queue.ok());
  {
    testing::AgentProcess agent(db(), {"--config", (dir_ / "ipctrail.yaml").string()}, log());
    auto appeared = [&](const NamespaceHolder& holder) {
      return testing::read_text(log()).find("ipc:[" + std::to_string(holder.inode()) + "] (") !=
             std::string::npos;
    };
    ASSERT_TRUE(testing::eventually([&] { return appeared(full) && appeared(queue); }))
        << testing::read_text(log());
    std::size_t before = ticks();
    ASSERT_TRUE(testing::eventually([&] { return ticks() >= before + 2; }));
    make_the_calls(full, queue);
    std::size_t after = ticks();
    ASSERT_TRUE(testing::eventually([&] { return ticks() >= after + 2; }));
    ASSERT_EQ(agent.stop(SIGTERM), 0) << testing::read_text(log());
  }
  std::string full_inode = std::to_string(full.inode());
  std::string queue_inode = std::to_string(queue.inode());
  std::map<std::string, std::int64_t> errors = sums("system.ipc_call_errors", full_inode);
  EXPECT_EQ(errors, (std::map<std::string, std::int64_t>{{"semget_ENOSPC", kFailedSemgets}}));
  std::map<std::string, std::int64_t> semaphore_calls =
      sums("system.ipc_semaphore_calls", full_inode);
  EXPECT_EQ(semaphore_calls["semget"], kFailedSemgets);
  EXPECT_EQ(semaphore_calls["semctl"], 0) << "the agent's sampler's calls were counted";

  EXPECT_EQ(sums("system.ipc_call_errors", queue_inode),
            (std::map<std::string, std::int64_t>{{"msgsnd_EAGAIN", kMsgsnds - 1}}));
  std::map<std::string, std::int64_t> queue_calls = sums("system.message_queue_calls", queue_inode);
  EXPECT_EQ(queue_calls["msgget"], 1);
  EXPECT_EQ(queue_calls["msgsnd"], kMsgsnds);
  EXPECT_EQ(sums("system.ipc_semaphore_calls", queue_inode)["semget"], 0);

  // Prometheus: each namespace's counters with its label, the same counts.
  EXPECT_EQ(exported(R"(ipctrail_syscall_errors_total{call="semget",errno="ENOSPC")", full.inode()),
            std::to_string(kFailedSemgets));
  EXPECT_EQ(exported(R"(ipctrail_syscalls_total{call="semget")", full.inode()),
            std::to_string(kFailedSemgets));
  EXPECT_EQ(exported(R"(ipctrail_syscalls_total{call="semctl")", full.inode()), "0");
  EXPECT_EQ(exported(R"(ipctrail_syscalls_total{call="msgsnd")", queue.inode()),
            std::to_string(kMsgsnds));

  // The own namespace: its own calls only, as with `namespaces: own`.
  std::map<std::string, std::int64_t> own_calls = sums("system.ipc_semaphore_calls", "host");
  EXPECT_EQ(own_calls["semget"], kOwnSemgets);
  EXPECT_EQ(own_calls["semctl"], 0);
  EXPECT_EQ(sums("system.message_queue_calls", "host")["msgsnd"], 0);
  EXPECT_TRUE(sums("system.ipc_call_errors", "host").empty());
}

}  // namespace
}  // namespace ipctrail
