// The agent with `namespaces: all` (README "Every IPC namespace"): every IPC namespace of the host
// is sampled each tick, namespaces held by other processes come and go between rescans. The test
// process sits in a private namespace: the agent's own.
#include <SQLiteCpp/Database.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/agent_process.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/namespace_holder.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

using testing::NamespaceContents;
using testing::NamespaceHolder;

class AgentNamespaces : public testing::IpcNamespaceTest {
 protected:
  void SetUp() override {
    testing::IpcNamespaceTest::SetUp();
    prefix_ = "/tmp/ipctrail-agent-namespaces-" + std::to_string(::getpid());
    config_ = prefix_ + ".yaml";
    db_ = prefix_ + ".db";
    log_ = prefix_ + ".log";
    std::ofstream(config_) << "interval: 100ms\nnamespaces: all\nnamespaces_rescan: 1s\n";
  }
  void TearDown() override {
    for (const std::string& path : {config_, db_, db_ + "-wal", db_ + "-shm", log_}) {
      ::unlink(path.c_str());
    }
  }

  testing::AgentProcess start_agent() {
    return testing::AgentProcess(db_, {"--config", config_}, log_);
  }
  bool logged(const std::string& text) {
    return testing::read_text(log_).find(text) != std::string::npos;
  }
  // The latest value of a chart's dimension in the namespace of `inode`'s live incarnation.
  std::string latest(std::uint64_t inode, const std::string& chart, const std::string& dimension) {
    SQLite::Database db(db_, SQLite::OPEN_READONLY);
    SQLite::Statement query(db,
                            "SELECT p.value FROM points p JOIN series s ON s.id = p.series_id "
                            "JOIN namespaces n ON n.id = s.namespace_id WHERE n.inode = ? AND "
                            "n.ended_ts IS NULL AND s.chart = ? AND s.dimension = ? "
                            "ORDER BY p.ts DESC LIMIT 1");
    query.bind(1, static_cast<std::int64_t>(inode));
    query.bind(2, chart);
    query.bind(3, dimension);
    if (!query.executeStep()) return "none";
    return query.getColumn(0).isNull() ? "NULL" : query.getColumn(0).getString();
  }
  std::int64_t number(const std::string& sql) {
    SQLite::Database db(db_, SQLite::OPEN_READONLY);
    return db.execAndGet(sql).getInt64();
  }

  // How many of `pid`'s descriptors are the IPC namespace `inode`.
  static std::size_t descriptors_of(pid_t pid, std::uint64_t inode) {
    std::string wanted = "ipc:[" + std::to_string(inode) + "]";
    std::size_t count = 0;
    std::error_code error;
    for (const auto& entry :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error)) {
      std::string target = std::filesystem::read_symlink(entry.path(), error).string();
      if (target == wanted) ++count;
    }
    return count;
  }

  static std::string link(std::uint64_t inode) {
    return "IPC namespace ipc:[" + std::to_string(inode) + "]";
  }

  std::string prefix_, config_, db_, log_;
};

TEST_F(AgentNamespaces, NamespacesAppearAndGoBetweenRescans) {
  NamespaceHolder first(
      {.kernel_values = {}, .semaphore_arrays = {2}, .queues = {}, .segments = {}});
  ASSERT_TRUE(first.ok());
  testing::AgentProcess agent = start_agent();
  ASSERT_TRUE(testing::eventually([&] { return logged(link(first.inode()) + " ("); }))
      << testing::read_text(log_);
  EXPECT_TRUE(logged(link(first.inode())));
  // Its own namespace keeps the ordinary path: never announced as another one.
  EXPECT_FALSE(logged(link(testing::ipc_namespace_inode("self"))));

  first.exit();
  ASSERT_TRUE(testing::eventually([&] { return logged(") is gone"); })) << testing::read_text(log_);
  NamespaceHolder second(
      {.kernel_values = {}, .semaphore_arrays = {1}, .queues = {}, .segments = {}});
  ASSERT_TRUE(second.ok());
  // The kernel may hand the first namespace's inode to the second: still announced anew.
  std::size_t before = testing::count_of(testing::read_text(log_), link(second.inode()) + " (");
  ASSERT_TRUE(testing::eventually([&] {
    std::string text = testing::read_text(log_);
    return testing::count_of(text, link(second.inode()) + " (") > before &&
           text.rfind(link(second.inode())) > text.rfind(") is gone");
  })) << testing::read_text(log_);
  EXPECT_EQ(agent.stop(SIGTERM), 0);
}

TEST_F(AgentNamespaces, EachNamespacesValuesAreInTheHistoryExactly) {
  create_semaphore_array(2);  // the agent's own namespace: one array of two
  NamespaceHolder first({.kernel_values = {{"sem", "250 1000 32 10"}, {"msgmni", "17"}},
                         .semaphore_arrays = {1, 2, 3},
                         .queues = {{100, 23}},
                         .segments = {8192}});
  NamespaceHolder second({.kernel_values = {{"shmmni", "33"}},
                          .semaphore_arrays = {5},
                          .queues = {{}, {7}},
                          .segments = {4096, 10}});
  NamespaceHolder third(
      {.kernel_values = {}, .semaphore_arrays = {}, .queues = {}, .segments = {1 << 20}});
  ASSERT_TRUE(first.ok() && second.ok() && third.ok());
  {
    testing::AgentProcess agent = start_agent();
    // Two ticks committed after the third namespace appeared: each stored at least once.
    ASSERT_TRUE(testing::eventually([&] {
      std::string text = testing::read_text(log_);
      std::size_t appeared = text.find(link(third.inode()) + " (");
      return appeared != std::string::npos &&
             testing::count_of(text.substr(appeared), "committed tick") >= 2;
    })) << testing::read_text(log_);
    EXPECT_EQ(agent.stop(SIGTERM), 0);
  }
  EXPECT_EQ(latest(first.inode(), "system.ipc_semaphores", "semaphores"), "6");
  EXPECT_EQ(latest(first.inode(), "system.ipc_semaphore_arrays", "arrays"), "3");
  EXPECT_EQ(latest(first.inode(), "system.shared_memory_bytes", "bytes"), "8192");
  EXPECT_EQ(latest(first.inode(), "system.ipc_limits", "semmni"), "10");
  EXPECT_EQ(latest(first.inode(), "system.ipc_limits", "semmns"), "1000");
  EXPECT_EQ(latest(first.inode(), "system.ipc_limits", "msgmni"), "17");
  EXPECT_EQ(latest(second.inode(), "system.ipc_semaphores", "semaphores"), "5");
  EXPECT_EQ(latest(second.inode(), "system.shared_memory_segments", "segments"), "2");
  EXPECT_EQ(latest(second.inode(), "system.shared_memory_bytes", "bytes"), "4106");
  EXPECT_EQ(latest(second.inode(), "system.ipc_limits", "shmmni"), "33");
  EXPECT_EQ(latest(third.inode(), "system.shared_memory_bytes", "bytes"), std::to_string(1 << 20));
  EXPECT_EQ(latest(third.inode(), "system.ipc_semaphore_arrays", "arrays"), "0");
  // Each namespace's queues, with their messages, and its objects.
  std::string first_row =
      "(SELECT id FROM namespaces WHERE inode = " + std::to_string(first.inode()) +
      " AND ended_ts IS NULL)";
  EXPECT_EQ(number("SELECT value FROM points p JOIN series s ON s.id = p.series_id WHERE "
                   "s.chart = 'system.message_queue_message' AND s.namespace_id = " +
                   first_row + " ORDER BY p.ts DESC LIMIT 1"),
            2);
  EXPECT_EQ(number("SELECT count(*) FROM ipc_objects WHERE removed_ts IS NULL AND namespace_id = " +
                   first_row),
            3 + 1 + 1);
  EXPECT_EQ(number("SELECT count(*) FROM objects o JOIN namespaces n ON n.label = o.namespace "
                   "WHERE o.removed_ts IS NULL AND n.ended_ts IS NULL AND n.inode = " +
                   std::to_string(second.inode())),
            1 + 2 + 2);
  // The agent's own rows are as they always were: namespace_id NULL. (The test runs in a private
  // namespace, so the kernel's initial one is another namespace here, also labelled host.)
  EXPECT_EQ(number("SELECT p.value FROM points p JOIN series s ON s.id = p.series_id WHERE "
                   "s.namespace_id IS NULL AND s.chart = 'system.ipc_semaphores' ORDER BY p.ts "
                   "DESC LIMIT 1"),
            2);
  EXPECT_EQ(number("SELECT count(*) FROM ipc_objects WHERE namespace_id IS NULL"), 1);
}

TEST_F(AgentNamespaces, AGoneNamespaceEndsItsSeriesAndObjects) {
  NamespaceHolder leaving(
      {.kernel_values = {}, .semaphore_arrays = {4}, .queues = {}, .segments = {}});
  ASSERT_TRUE(leaving.ok());
  {
    testing::AgentProcess agent = start_agent();
    ASSERT_TRUE(testing::eventually([&] { return logged(link(leaving.inode()) + " ("); }));
    ASSERT_TRUE(testing::eventually([&] {
      std::string text = testing::read_text(log_);
      return testing::count_of(text.substr(text.find(link(leaving.inode()))), "committed tick") >=
             2;
    }));
    // The agent holds the namespace's descriptor between ticks, and lets it go with the namespace.
    EXPECT_EQ(descriptors_of(agent.pid(), leaving.inode()), 1u);
    leaving.exit();
    ASSERT_TRUE(testing::eventually([&] { return logged(") is gone"); }));
    std::size_t gone_at = testing::read_text(log_).find(") is gone");
    ASSERT_TRUE(testing::eventually([&] {
      return testing::count_of(testing::read_text(log_).substr(gone_at), "committed tick") >= 1;
    }));
    EXPECT_EQ(descriptors_of(agent.pid(), leaving.inode()), 0u);
    EXPECT_EQ(agent.stop(SIGTERM), 0);
  }
  std::string row = "(SELECT id FROM namespaces WHERE inode = " + std::to_string(leaving.inode()) +
                    " ORDER BY id DESC LIMIT 1)";
  EXPECT_EQ(number("SELECT ended_ts IS NOT NULL FROM namespaces WHERE id = " + row), 1);
  EXPECT_EQ(number("SELECT count(*) FROM series WHERE ended_ts IS NULL AND namespace_id = " + row),
            0);
  EXPECT_GT(number("SELECT count(*) FROM series WHERE namespace_id = " + row), 0);
  EXPECT_EQ(
      number("SELECT count(*) FROM ipc_objects WHERE removed_ts IS NULL AND namespace_id = " + row),
      0);
  EXPECT_EQ(number("SELECT count(*) FROM ipc_objects WHERE namespace_id = " + row), 1);
}

// Each namespace's alerts against its own limits: 9 arrays of semmni 10 raise that namespace's
// semaphore_arrays_used, and neither the agent's own namespace nor a quiet one moves.
TEST_F(AgentNamespaces, AnAlertInOneNamespaceRaisesOnlyItsInstance) {
  NamespaceHolder full({.kernel_values = {{"sem", "250 32000 32 10"}},
                        .semaphore_arrays = {1, 1, 1, 1, 1, 1, 1, 1, 1},
                        .queues = {},
                        .segments = {}});
  NamespaceHolder quiet({.kernel_values = {{"sem", "250 32000 32 10"}},
                         .semaphore_arrays = {1},
                         .queues = {},
                         .segments = {}});
  ASSERT_TRUE(full.ok() && quiet.ok());
  {
    testing::AgentProcess agent = start_agent();
    ASSERT_TRUE(testing::eventually([&] {
      std::string text = testing::read_text(log_);
      std::size_t quiet_seen = text.find(link(quiet.inode()) + " (");
      return logged("alert semaphore_arrays_used in ") && quiet_seen != std::string::npos &&
             testing::count_of(text.substr(quiet_seen), "committed tick") >= 2;
    })) << testing::read_text(log_);
    EXPECT_EQ(agent.stop(SIGTERM), 0);
  }
  // Among the namespaces this test controls (the host's and its two): other tests' private
  // namespaces, sampled too, may sit at their own limits at the same time.
  std::string raised =
      "FROM alert_transitions a LEFT JOIN namespaces n ON n.id = a.namespace_id WHERE a.alert = "
      "'semaphore_arrays_used' AND a.new_status IN (3, 4) AND (a.namespace_id IS NULL OR n.inode "
      "IN (" +
      std::to_string(full.inode()) + ", " + std::to_string(quiet.inode()) + "))";
  EXPECT_EQ(number("SELECT count(*) " + raised), 1);
  EXPECT_EQ(number("SELECT n.inode " + raised), static_cast<std::int64_t>(full.inode()));
  EXPECT_EQ(number("SELECT a.new_status " + raised), 3);  // WARNING: 90% is not above crit's 90
  EXPECT_EQ(number("SELECT count(*) FROM alert_log l JOIN namespaces n ON n.label = l.namespace "
                   "WHERE l.alert = 'semaphore_arrays_used' AND l.new_status = 'WARNING' AND "
                   "n.inode = " +
                   std::to_string(full.inode())),
            1);
  // The quiet namespace and the agent's own were evaluated too, and stayed CLEAR.
  EXPECT_EQ(number("SELECT a.new_status FROM alert_transitions a JOIN namespaces n ON n.id = "
                   "a.namespace_id WHERE a.alert = 'semaphore_arrays_used' AND n.inode = " +
                   std::to_string(quiet.inode())),
            1);
  EXPECT_EQ(number("SELECT new_status FROM alert_transitions WHERE namespace_id IS NULL AND "
                   "alert = 'semaphore_arrays_used'"),
            1);
}

// A restarted agent continues the history of a namespace that lived through the restart: one
// namespaces row, still open, and the same series.
TEST_F(AgentNamespaces, ARestartContinuesANamespaceThatLived) {
  NamespaceHolder holder(
      {.kernel_values = {}, .semaphore_arrays = {3}, .queues = {}, .segments = {}});
  ASSERT_TRUE(holder.ok());
  std::string row_count =
      "SELECT count(*) FROM namespaces WHERE inode = " + std::to_string(holder.inode());
  for (int run = 0; run < 2; ++run) {
    std::size_t before = testing::count_of(testing::read_text(log_), "committed tick");
    testing::AgentProcess agent = start_agent();
    ASSERT_TRUE(testing::eventually([&] {
      std::string text = testing::read_text(log_);
      return text.find(link(holder.inode()) + " (", 0) != std::string::npos &&
             testing::count_of(text, "committed tick") >= before + 2;
    })) << testing::read_text(log_);
    EXPECT_EQ(agent.stop(SIGTERM), 0);
  }
  EXPECT_EQ(number(row_count), 1);
  EXPECT_EQ(number(row_count + " AND ended_ts IS NULL"), 1);
  EXPECT_EQ(number("SELECT count(*) FROM series s JOIN namespaces n ON n.id = s.namespace_id "
                   "WHERE s.chart = 'system.ipc_semaphore_arrays' AND n.inode = " +
                   std::to_string(holder.inode())),
            1);
}

// Another namespace's leak suspects (README "Leak suspects"): a segment whose creator exited,
// made inside a holder's namespace, is found by that namespace's leak rules, stored with its
// objects (`objects --leaked --namespace`), and raises that namespace's ipc_objects_leaked only.
TEST_F(AgentNamespaces, ALeakInAnotherNamespaceIsThatNamespaces) {
  NamespaceHolder holder(
      {.kernel_values = {}, .semaphore_arrays = {}, .queues = {}, .segments = {}});
  ASSERT_TRUE(holder.ok());
  // ipcmk exits at once: its segment has no creator left and nothing attached.
  testing::CommandResult made = testing::run_shell(
      "nsenter --ipc=/proc/" + std::to_string(holder.pid()) + "/ns/ipc ipcmk -M 4096 2>&1");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  std::ofstream(config_, std::ios::app) << "leaks:\n  min_age: 0s\n";
  std::string inode = std::to_string(holder.inode());
  std::string in_holder =
      "FROM alert_transitions a JOIN namespaces n ON n.id = a.namespace_id "
      "WHERE a.alert = 'ipc_objects_leaked' AND a.instance = 'shm' AND "
      "a.new_status = 3 AND n.inode = " +
      std::to_string(holder.inode());
  {
    testing::AgentProcess agent = start_agent();
    // The log line of the raise: "alert ipc_objects_leaked shm in ipc:[N]: ... -> WARNING: ...".
    std::string raise = "alert ipc_objects_leaked shm in ipc:[" + inode + "]: ";
    ASSERT_TRUE(testing::eventually([&] {
      std::string text = testing::read_text(log_);
      std::size_t at = text.find(raise);
      return at != std::string::npos &&
             text.substr(at, text.find('\n', at) - at).find("-> WARNING") != std::string::npos;
    })) << testing::read_text(log_);
    EXPECT_EQ(agent.stop(SIGTERM), 0);
  }
  EXPECT_EQ(number("SELECT count(*) " + in_holder), 1);
  EXPECT_EQ(number("SELECT count(*) FROM alert_transitions WHERE alert = 'ipc_objects_leaked' AND "
                   "new_status = 3 AND namespace_id IS NULL"),
            0);
  testing::CommandResult there =
      testing::run_ipctrail("objects --leaked --format csv --db " + db_ + " --namespace " + inode);
  EXPECT_EQ(there.exit_code, 0) << there.output;
  EXPECT_EQ(testing::count_of(there.output, "\nshm,"), 1) << there.output;
  testing::CommandResult host = testing::run_ipctrail("objects --leaked --format csv --db " + db_);
  EXPECT_EQ(host.exit_code, 0) << host.output;
  EXPECT_EQ(testing::count_of(host.output, "\nshm,"), 0) << host.output;
}

}  // namespace
}  // namespace ipctrail
