// Who did it, end to end: the real agent with real BPF in a private IPC namespace watches test
// processes leak arrays until semget fails, remove them, and fill a queue; `who` and `objects`
// name them with the exact counts, and the agent's own calls appear nowhere.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/support/bpf_agent_test.h"
#include "tests/support/cgroup_tree.h"
#include "tests/support/child_process.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

constexpr int kArrays = 4;          // semmni
constexpr int kFailedSemgets = 24;  // after the namespace is full
constexpr int kFailedMsgsnds = 17;  // on a full queue, with IPC_NOWAIT

class WhoAttribution : public testing::BpfAgentTest {
 protected:
  void SetUp() override {
    BpfAgentTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    start_bpf_agent();
  }

  nlohmann::json json_of(const std::string& arguments) {
    testing::CommandResult result = testing::run_ipctrail(arguments + " --db " + db_);
    EXPECT_EQ(result.exit_code, 0) << arguments << "\n" << result.output;
    return nlohmann::json::parse(result.output, nullptr, false);
  }

  // The who --format json row of `comm` for `call` and `error`, once a tick has stored it all.
  nlohmann::json who_row(const std::string& comm, const std::string& call, const std::string& error,
                         std::int64_t expected) {
    nlohmann::json found;
    testing::eventually([&] {
      nlohmann::json who = json_of("who --since -10m --errors --format json --call " + call);
      for (const nlohmann::json& row : who["processes"]) {
        if (row["process"] == comm && row["errno"] == error) found = row;
      }
      return !found.is_null() && found["count"] == expected;
    });
    return found;
  }
};

TEST_F(WhoAttribution, TheLeakerTheRemoverAndTheProducerAreNamedWithExactCounts) {
  set_kernel_value("sem", "250 32000 32 " + std::to_string(kArrays));

  std::vector<int> arrays;
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  pid_t leaker = testing::in_child(
      [&] {
        for (int i = 0; i < kArrays; ++i) {
          int id = ::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
          ASSERT_GE(id, 0);
          ASSERT_EQ(::write(pipe_fds[1], &id, sizeof id), static_cast<ssize_t>(sizeof id));
        }
        for (int i = 0; i < kFailedSemgets; ++i) {
          ASSERT_LT(::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600), 0);
          ASSERT_EQ(errno, ENOSPC);
        }
      },
      "ipcleaker");
  ::close(pipe_fds[1]);
  for (int id = 0; ::read(pipe_fds[0], &id, sizeof id) == sizeof id;) arrays.push_back(id);
  ::close(pipe_fds[0]);
  ASSERT_EQ(arrays.size(), static_cast<std::size_t>(kArrays));

  nlohmann::json row = who_row("ipcleaker", "semget", "ENOSPC", kFailedSemgets);
  ASSERT_FALSE(row.is_null()) << json_of("who --since -10m --format json").dump();
  EXPECT_EQ(row["count"], kFailedSemgets);
  EXPECT_EQ(row["pids"], nlohmann::json::array({leaker}));
  testing::CommandResult table = testing::run_ipctrail("who --since -10m --errors --db " + db_);
  EXPECT_NE(table.output.find("ipcleaker"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("semget ENOSPC ×" + std::to_string(kFailedSemgets)),
            std::string::npos)
      << table.output;

  // objects names the leaker as the creator of each array.
  std::set<int> created_by_leaker;
  testing::eventually([&] {
    created_by_leaker.clear();
    nlohmann::json objects = json_of("objects --kind sem --format json");
    for (const nlohmann::json& object : objects["objects"]) {
      if (object.contains("creator") && object["creator"]["comm"] == "ipcleaker" &&
          object["creator"]["pid"] == leaker) {
        created_by_leaker.insert(object["id"].get<int>());
      }
    }
    return created_by_leaker.size() == arrays.size();
  });
  EXPECT_EQ(created_by_leaker, std::set<int>(arrays.begin(), arrays.end()))
      << "leaker " << leaker << ": " << json_of("objects --kind sem --format json").dump();

  // A second process removes them: objects --events names it as the remover.
  pid_t remover = testing::in_child(
      [&] {
        for (int id : arrays) ASSERT_EQ(::semctl(id, 0, IPC_RMID), 0);
      },
      "ipcremover");
  std::set<int> removed_by_remover;
  testing::eventually([&] {
    removed_by_remover.clear();
    nlohmann::json events = json_of("objects --events --since -10m --kind sem --format json");
    for (const nlohmann::json& event : events["events"]) {
      if (event["event"] == "removed" && event.contains("process") &&
          event["process"]["comm"] == "ipcremover" && event["process"]["pid"] == remover) {
        removed_by_remover.insert(event["id"].get<int>());
      }
    }
    return removed_by_remover.size() == arrays.size();
  });
  EXPECT_EQ(removed_by_remover, std::set<int>(arrays.begin(), arrays.end()));
  testing::CommandResult events =
      testing::run_ipctrail("objects --events --since -10m --kind sem --db " + db_);
  EXPECT_NE(events.output.find("removed by ipcremover (pid " + std::to_string(remover)),
            std::string::npos)
      << events.output;
  EXPECT_NE(events.output.find("created by ipcleaker (pid " + std::to_string(leaker)),
            std::string::npos)
      << events.output;

  // A producer on a full queue with IPC_NOWAIT: exactly its failures are EAGAIN.
  int msqid = create_queue();
  pid_t producer = testing::in_child(
      [&] {
        struct {
          long type = 1;
          char text[1024] = {};
        } message;
        while (::msgsnd(msqid, &message, sizeof message.text, IPC_NOWAIT) == 0) {
        }
        ASSERT_EQ(errno, EAGAIN);
        for (int i = 1; i < kFailedMsgsnds; ++i) {
          ASSERT_NE(::msgsnd(msqid, &message, sizeof message.text, IPC_NOWAIT), 0);
          ASSERT_EQ(errno, EAGAIN);
        }
      },
      "ipcproducer");
  row = who_row("ipcproducer", "msgsnd", "EAGAIN", kFailedMsgsnds);
  ASSERT_FALSE(row.is_null()) << json_of("who --since -10m --format json").dump();
  EXPECT_EQ(row["count"], kFailedMsgsnds);
  EXPECT_EQ(row["pids"], nlohmann::json::array({producer}));

  // The agent's own calls appear nowhere.
  nlohmann::json all = json_of("who --since -10m --format json");
  for (const nlohmann::json& entry : all["processes"]) {
    EXPECT_FALSE(std::find(entry["pids"].begin(), entry["pids"].end(), agent_->pid()) !=
                 entry["pids"].end())
        << entry.dump();
  }
  nlohmann::json history = json_of("objects --events --since -10m --format json");
  for (const nlohmann::json& event : history["events"]) {
    if (event.contains("process")) {
      EXPECT_NE(event["process"]["pid"], agent_->pid());
    }
  }
  EXPECT_EQ(agent_->stop(SIGTERM), 0);
}

TEST_F(WhoAttribution, AProcessInAChildCgroupIsAttributedToThatCgroupsName) {
  testing::TestCgroupTree tree("ipctrail-who-test-" + std::to_string(::getpid()));
  IPCTRAIL_REQUIRE_PRIVILEGE(tree.created(), "cannot make a test cgroup: " + tree.error());
  testing::TestCgroup unit = tree.make("billing.service");
  ASSERT_NE(unit.id, 0u);
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::prctl(PR_SET_NAME, "ipcbilling");
    char byte = 0;
    if (::read(go[0], &byte, 1) != 1) ::_exit(1);
    for (int i = 0; i < 3; ++i) {
      if (::msgget(IPC_PRIVATE, IPC_CREAT | 0600) < 0) ::_exit(2);
    }
    ::_exit(0);
  }
  tree.move_process(child, unit);
  ASSERT_EQ(::write(go[1], "x", 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  nlohmann::json found;
  testing::eventually([&] {
    nlohmann::json who = json_of("who --since -10m --call msgget --format json");
    for (const nlohmann::json& row : who["processes"]) {
      if (row["process"] == "ipcbilling" && row["unit"] == "billing.service") found = row;
    }
    return !found.is_null();
  });
  ASSERT_FALSE(found.is_null()) << json_of("who --since -10m --format json").dump();
  EXPECT_EQ(found["count"], 3);
  EXPECT_EQ(found["pids"], nlohmann::json::array({child}));
  EXPECT_EQ(agent_->stop(SIGTERM), 0);
}

TEST_F(WhoAttribution, WithoutBpfWhoSaysWhyInOneLine) {
  EXPECT_EQ(agent_->stop(SIGTERM), 0);
  std::string quiet_db = (scratch_.path() / "quiet.db").string();
  std::string quiet_config = (scratch_.path() / "quiet.yaml").string();
  std::ofstream(quiet_config) << "bpf:\n  enabled: false\n";
  ASSERT_EQ(testing::run_ipctrail("agent --interval 100ms --ticks 3 --config " + quiet_config +
                                  " --db " + quiet_db)
                .exit_code,
            0);
  testing::CommandResult who = testing::run_ipctrail("who --since -10m --db " + quiet_db);
  EXPECT_EQ(who.exit_code, 0);
  EXPECT_EQ(testing::count_of(who.output, "\n"), 1u) << who.output;
  EXPECT_NE(who.output.find("no BPF counts recorded in this window"), std::string::npos)
      << who.output;

  testing::CommandResult bad = testing::run_ipctrail("who --since yesterday-ish --db " + quiet_db);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(testing::count_of(bad.output, "\n"), 1u) << bad.output;
  EXPECT_EQ(testing::run_ipctrail("who --call semgot --db " + quiet_db).exit_code, 2);
  EXPECT_EQ(testing::run_ipctrail("who --db /nonexistent/history.db").exit_code, 2);
}

}  // namespace
}  // namespace ipctrail
