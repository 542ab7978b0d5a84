// Leak suspects end to end: the real agent in a private IPC namespace with a tiny leaks.min_age
// flags an orphaned segment (alert WARNING, Prometheus gauge, `objects --leaked`), never an
// attached one, and reports a queue whose consumer died while the producer kept sending. With BPF,
// an idle array is a suspect only once the process that made it is gone.
#include <SQLiteCpp/Database.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <thread>

#include "agent/collect/leak_finder.h"
#include "tests/support/agent_process.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/prometheus_support.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

using namespace std::chrono_literals;

class ObjectLeaks : public testing::IpcNamespaceTest {
 protected:
  void start_agent(bool bpf = false) {
    std::ofstream(config_) << "interval: 100ms\nbpf:\n  enabled: " << (bpf ? "true" : "false")
                           << "\nleaks:\n  min_age: 1s\nexport:\n  textfile:\n    path: "
                           << textfile_ << "\n";
    agent_ = std::make_unique<testing::AgentProcess>(
        db_, std::vector<std::string>{"--config", config_}, log_);
  }

  std::string query(const std::string& sql) {
    try {
      SQLite::Database db(db_, SQLite::OPEN_READONLY, 1000);
      SQLite::Statement statement(db, sql);
      if (!statement.executeStep() || statement.getColumn(0).isNull()) return "";
      return statement.getColumn(0).getString();
    } catch (const std::exception&) {
      return "";
    }
  }

  static std::string latest_status(const std::string& kind) {
    return "SELECT new_status FROM alert_log WHERE alert = 'ipc_objects_leaked' AND instance = '" +
           kind + "' ORDER BY ts DESC LIMIT 1";
  }

  // Waits up to 20 s for `sql` to answer `expected`.
  bool wait_for(const std::string& sql, const std::string& expected) {
    for (auto deadline = std::chrono::steady_clock::now() + 20s;
         std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(50ms)) {
      if (query(sql) == expected) return true;
    }
    return false;
  }

  testing::ScratchDirectory scratch_;
  std::string db_ = (scratch_.path() / "history.db").string();
  std::string config_ = (scratch_.path() / "ipctrail.yaml").string();
  std::string log_ = (scratch_.path() / "agent.log").string();
  std::string textfile_ = (scratch_.path() / "ipctrail.prom").string();
  std::unique_ptr<testing::AgentProcess> agent_;
};

TEST_F(ObjectLeaks, AnOrphanedSegmentIsASuspectAndAnAttachedOneNever) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(::shmget(0x4001, 4096, IPC_CREAT | 0600) >= 0 ? 0 : 1);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  int kept = ::shmget(0x4002, 8192, IPC_CREAT | 0600);
  ASSERT_GE(kept, 0);
  void* attached = ::shmat(kept, nullptr, 0);
  ASSERT_NE(attached, reinterpret_cast<void*>(-1));

  start_agent();
  // The first evaluation may already find the segment older than min_age (a slow start under a
  // sanitizer), so the log is CLEAR then WARNING, or WARNING at once: its latest must be WARNING.
  ASSERT_TRUE(
      wait_for("SELECT new_status FROM alert_log WHERE alert = 'ipc_objects_leaked' AND "
               "instance = 'shm' ORDER BY ts DESC LIMIT 1",
               "WARNING"))
      << testing::read_text(log_);
  EXPECT_EQ(query("SELECT group_concat(key_hex) FROM object_events WHERE event = "
                  "'leak_suspected'"),
            "0x00004001");
  EXPECT_NE(query("SELECT details FROM object_events WHERE event = 'leak_suspected'")
                .find("creator pid " + std::to_string(child) + " gone"),
            std::string::npos);
  for (auto deadline = std::chrono::steady_clock::now() + 20s;
       testing::read_text(textfile_).find("ipctrail_leaked_objects{kind=\"shm\"} 1") ==
           std::string::npos &&
       std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(50ms)) {
  }
  EXPECT_NE(testing::read_text(textfile_).find("ipctrail_leaked_objects{kind=\"shm\"} 1"),
            std::string::npos)
      << testing::read_text(textfile_);

  testing::CommandResult leaked =
      testing::run_ipctrail("objects --leaked --format csv --db " + db_);
  EXPECT_EQ(leaked.exit_code, 0) << leaked.output;
  EXPECT_NE(leaked.output.find("0x00004001"), std::string::npos) << leaked.output;
  EXPECT_EQ(leaked.output.find("0x00004002"), std::string::npos) << leaked.output;
  EXPECT_EQ(agent_->stop(SIGTERM), 0);
  ::shmdt(attached);
}

TEST_F(ObjectLeaks, AQueueWhoseConsumerDiedWhileSendsGoOnIsReported) {
  int queue = ::msgget(0x5001, IPC_CREAT | 0600);
  ASSERT_GE(queue, 0);
  struct {
    long type;
    char text[16];
  } message{1, "work"};
  ASSERT_EQ(::msgsnd(queue, &message, sizeof message.text, 0), 0);
  pid_t consumer = ::fork();
  ASSERT_GE(consumer, 0);
  if (consumer == 0) {
    ::msgrcv(queue, &message, sizeof message.text, 0, 0);
    for (;;) ::pause();  // stalls until killed
  }
  msqid_ds state{};
  for (auto deadline = std::chrono::steady_clock::now() + 20s;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(10ms)) {
    ASSERT_EQ(::msgctl(queue, IPC_STAT, &state), 0);
    if (state.msg_lrpid == consumer) break;
  }
  ASSERT_EQ(state.msg_lrpid, consumer);
  ::kill(consumer, SIGKILL);
  ::waitpid(consumer, nullptr, 0);
  // The producer goes on, in a later second than the last receive (the kernel keeps seconds).
  while (std::time(nullptr) <= state.msg_rtime) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(::msgsnd(queue, &message, sizeof message.text, 0), 0);

  start_agent();
  ASSERT_TRUE(wait_for(latest_status("msg"), "WARNING")) << testing::read_text(log_);
  EXPECT_NE(query("SELECT details FROM object_events WHERE event = 'leak_suspected' AND kind = "
                  "'msg'")
                .find("sends go on"),
            std::string::npos);
  EXPECT_EQ(agent_->stop(SIGTERM), 0);
}

// A segment whose creator has exited, made in a child so that its creator pid is gone.
int orphaned_segment(std::int32_t key) {
  pid_t child = ::fork();
  if (child == 0) _exit(::shmget(key, 4096, IPC_CREAT | 0600) >= 0 ? 0 : 1);
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(ObjectLeaks, SwitchingTheRulesOffRemovesTheAlertAndStopsSuspectEvents) {
  ASSERT_EQ(orphaned_segment(0x4101), 0);
  start_agent();
  ASSERT_TRUE(wait_for(latest_status("shm"), "WARNING")) << testing::read_text(log_);

  // Replaced atomically, as the README advises, then SIGHUP.
  std::string next = config_ + ".next";
  std::ofstream(next) << "interval: 100ms\nbpf:\n  enabled: false\nleaks:\n  enabled: false\n"
                         "  min_age: 1s\n";
  ASSERT_EQ(::rename(next.c_str(), config_.c_str()), 0);
  ::kill(agent_->pid(), SIGHUP);
  ASSERT_TRUE(wait_for(latest_status("shm"), "REMOVED")) << testing::read_text(log_);
  EXPECT_EQ(query(latest_status("sem")), "REMOVED");
  EXPECT_EQ(query(latest_status("msg")), "REMOVED");
  EXPECT_EQ(query("SELECT details FROM object_events WHERE event = 'leak_cleared' AND key_hex = "
                  "'0x00004101'"),
            "leak rules switched off");

  // A second orphan, watched for longer than min_age with the rules off: never a suspect.
  ASSERT_EQ(orphaned_segment(0x4102), 0);
  std::int64_t made_ms = static_cast<std::int64_t>(std::time(nullptr)) * 1000;
  ASSERT_TRUE(testing::eventually([&] {
    return query("SELECT max(last_ts) > " + std::to_string(made_ms + 3000) +
                 " FROM sampling_spans") == "1";
  })) << testing::read_text(log_);
  EXPECT_EQ(query("SELECT count(*) FROM object_events WHERE key_hex = '0x00004102'"), "1");  // made
  EXPECT_EQ(query("SELECT count(*) FROM object_events WHERE event = 'leak_suspected'"), "1");
  EXPECT_EQ(query("SELECT count(*) FROM alert_log WHERE alert = 'ipc_objects_leaked' AND ts > "
                  "(SELECT max(ts) FROM alert_log WHERE new_status = 'REMOVED')"),
            "0");
  testing::CommandResult leaked =
      testing::run_ipctrail("objects --leaked --format csv --db " + db_);
  EXPECT_EQ(leaked.exit_code, 0) << leaked.output;
  EXPECT_EQ(leaked.output.find("0x0000410"), std::string::npos) << leaked.output;
  EXPECT_EQ(agent_->stop(SIGTERM), 0);
}

TEST_F(ObjectLeaks, AReusedPidIsNotTheCreator) {
  LeakFinder finder;
  std::int64_t now = std::time(nullptr);
  EXPECT_TRUE(finder.alive_since(::getpid(), now));
  // This process started after the moment: had an object been made then, its creator's pid now
  // names another process.
  EXPECT_FALSE(finder.alive_since(::getpid(), 1'000'000));
  pid_t child = ::fork();
  if (child == 0) _exit(0);
  ::waitpid(child, nullptr, 0);
  EXPECT_FALSE(finder.alive_since(child, now));
}

// The sem rule with the creator known (BPF): a child makes an array and exits, the test process
// makes one it keeps and never uses. Both are idle past min_age; only the orphan is a suspect.
TEST_F(ObjectLeaks, AnIdleArrayIsASuspectOnlyOnceItsKnownCreatorIsGone) {
  start_agent(true);
  // BPF must attach here (root, tracefs): CI must not pass without it.
  bool ticking = testing::eventually([&] {
    return !agent_->running() || testing::count_of(testing::read_text(log_), "committed") >= 2;
  });
  IPCTRAIL_REQUIRE_PRIVILEGE(
      ticking && agent_->running() && query("SELECT count(*) FROM process_spans") != "0",
      "the agent with bpf.enabled: true did not count per process:\n" + testing::read_text(log_));

  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(::semget(0x5001, 2, IPC_CREAT | IPC_EXCL | 0600) >= 0 ? 0 : 1);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  int kept = ::semget(0x5002, 1, IPC_CREAT | IPC_EXCL | 0600);
  ASSERT_GE(kept, 0);

  ASSERT_TRUE(wait_for(latest_status("sem"), "WARNING")) << testing::read_text(log_);
  EXPECT_EQ(query("SELECT group_concat(key_hex) FROM object_events WHERE event = "
                  "'leak_suspected'"),
            "0x00005001")
      << testing::run_ipctrail("objects --format csv --db " + db_).output
      << testing::read_text(log_);
  EXPECT_NE(query("SELECT details FROM object_events WHERE event = 'leak_suspected'")
                .find("creator pid " + std::to_string(child) + " gone"),
            std::string::npos);
  // Both arrays are as old and as idle: a few more ticks still find only the orphan.
  std::size_t ticks = testing::count_of(testing::read_text(log_), "committed");
  ASSERT_TRUE(testing::eventually(
      [&] { return testing::count_of(testing::read_text(log_), "committed") >= ticks + 5; }));
  EXPECT_EQ(query("SELECT group_concat(key_hex) FROM object_events WHERE event = "
                  "'leak_suspected'"),
            "0x00005001");
  EXPECT_EQ(agent_->stop(SIGTERM), 0);
  ::semctl(kept, 0, IPC_RMID);
}

// Object times count whole seconds: an array made at 10.95 s says 10. One second after 10.0 s it
// has been idle for 50 ms, not for a min_age of 1 s, and it is no suspect until 12.0 s.
TEST_F(ObjectLeaks, AnObjectIsNoSuspectBeforeMinAgeHasSurelyPassed) {
  IpcObject array;
  array.kind = IpcKind::kSemaphore;
  array.id = 8;
  array.key = 0x5004;
  array.size = 1;
  array.ctime = 1'000'000;
  IpcInventory inventory;
  inventory.semaphores = {array};
  Config::Leaks rules;
  rules.min_age = std::chrono::milliseconds(1000);
  LeakFinder finder;
  std::vector<LeakSuspect> suspects;
  finder.find(inventory, 1'000'001'000, rules, suspects);
  EXPECT_TRUE(suspects.empty());
  finder.find(inventory, 1'000'001'999, rules, suspects);
  EXPECT_TRUE(suspects.empty());
  finder.find(inventory, 1'000'002'000, rules, suspects);
  ASSERT_EQ(suspects.size(), 1u);
  EXPECT_EQ(suspects.front().key, 0x5004);
}

// The creator's pid must name the process that made the array: a live pid whose process started
// after the array was made is another process, and does not hide the leak.
TEST_F(ObjectLeaks, AReusedPidDoesNotHideALeakedArray) {
  IpcObject array;
  array.kind = IpcKind::kSemaphore;
  array.id = 7;
  array.key = 0x5003;
  array.size = 1;
  array.ctime = 1'000'000;  // 1970: long before this process started
  IpcInventory inventory;
  inventory.semaphores = {array};
  Config::Leaks rules;
  rules.min_age = std::chrono::milliseconds(1000);
  std::int64_t now_ms = static_cast<std::int64_t>(std::time(nullptr)) * 1000;
  LeakFinder finder;
  std::vector<LeakSuspect> suspects;

  ArrayCreators reused = {{7, {.pid = ::getpid(), .created_s = 1'000'000, .surely_created = true}}};
  finder.find(inventory, now_ms, rules, suspects, reused);
  ASSERT_EQ(suspects.size(), 1u);
  EXPECT_NE(suspects[0].reason.find("creator pid " + std::to_string(::getpid()) + " gone"),
            std::string::npos)
      << suspects[0].reason;

  // The same live process, had it made the array now (evaluated 5 s later): not a suspect.
  std::int64_t made_s = now_ms / 1000;
  std::int64_t later_ms = now_ms + 5000;
  inventory.semaphores->front().ctime = made_s;
  ArrayCreators alive = {{7, {.pid = ::getpid(), .created_s = made_s}}};
  finder.find(inventory, later_ms, rules, suspects, alive);
  EXPECT_TRUE(suspects.empty());
  // A semget without IPC_EXCL that found the array after it was made: not its creator.
  ArrayCreators found_one = {{7, {.pid = ::getpid(), .created_s = made_s + 3}}};
  finder.find(inventory, later_ms, rules, suspects, found_one);
  EXPECT_EQ(suspects.size(), 1u);
  // Unknown creator: today's rule (idle alone).
  finder.find(inventory, later_ms, rules, suspects);
  EXPECT_EQ(suspects.size(), 1u);
}

}  // namespace
}  // namespace ipctrail
