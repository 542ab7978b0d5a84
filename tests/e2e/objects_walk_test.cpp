// The IPC object inventory end to end: the real agent records a scripted walk of creations,
// changes and removals in a private IPC namespace, and afterwards `ipctrail objects --at` each
// moment prints what `ipcs -a` printed then.
#include <SQLiteCpp/Database.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "model/time_parse.h"
#include "model/time_text.h"
#include "tests/support/agent_process.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/prometheus_support.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

// "msg <key> <id> <owner> <perms> <bytes> <messages>", "shm <key> <id> <owner> <perms> <bytes>
// <nattch>", "sem <key> <id> <owner> <perms> <nsems>" for every object `ipcs -a` lists.
std::set<std::string> ipcs_objects(const std::string& text) {
  std::set<std::string> objects;
  std::string kind;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find("Message Queues") != std::string::npos) kind = "msg";
    if (line.find("Shared Memory Segments") != std::string::npos) kind = "shm";
    if (line.find("Semaphore Arrays") != std::string::npos) kind = "sem";
    if (line.rfind("0x", 0) != 0) continue;
    std::vector<std::string> f = words(line);
    std::size_t fields = kind == "sem" ? 5 : 6;
    std::string row = kind;
    for (std::size_t i = 0; i < fields && i < f.size(); ++i) row += " " + f[i];
    objects.insert(row);
  }
  return objects;
}

// The same from `ipctrail objects --format csv`.
std::set<std::string> stored_objects(const std::string& csv) {
  std::set<std::string> objects;
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream fields(line);
    for (std::string field; std::getline(fields, field, ',');) f.push_back(field);
    f.resize(22);
    // kind,id,key,key_hex,uid,owner,gid,cuid,cgid,perms,size,nattch,cpid,lpid,messages,bytes,...
    std::string row = f[0] + " " + f[3] + " " + f[1] + " " + f[5] + " " + f[9] + " ";
    if (f[0] == "msg") row += f[15] + " " + f[14];
    if (f[0] == "shm") row += f[10] + " " + f[11];
    if (f[0] == "sem") row += f[10];
    objects.insert(row);
  }
  return objects;
}

std::string join(const std::set<std::string>& rows) {
  std::string text;
  for (const std::string& row : rows) text += row + "\n";
  return text;
}

class ObjectsWalk : public testing::IpcNamespaceTest {
 protected:
  // The latest tick the agent committed, from the file as any reader sees it.
  std::int64_t last_tick() {
    try {
      SQLite::Database db(db_, SQLite::OPEN_READONLY, 1000);
      return db.execAndGet("SELECT coalesce(max(last_ts), 0) FROM sampling_spans").getInt64();
    } catch (const std::exception&) {
      return 0;  // not created yet
    }
  }

  // Waits (up to 20 s) for a tick collected after `after_ms`.
  bool wait_for_tick_after(std::int64_t after_ms) {
    for (auto deadline = std::chrono::steady_clock::now() + 20s;
         std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(20ms)) {
      if (last_tick() > after_ms) return true;
    }
    return false;
  }

  void start_agent() {
    std::ofstream(config_) << "interval: 100ms\nbpf:\n  enabled: false\n";
    agent_ = std::make_unique<testing::AgentProcess>(
        db_, std::vector<std::string>{"--config", config_}, log_);
  }

  testing::ScratchDirectory scratch_;
  std::string db_ = (scratch_.path() / "history.db").string();
  std::string config_ = (scratch_.path() / "ipctrail.yaml").string();
  std::string log_ = (scratch_.path() / "agent.log").string();
  std::unique_ptr<testing::AgentProcess> agent_;
};

int checked(int result, const char* what) {
  EXPECT_GE(result, 0) << what << ": " << std::strerror(errno);
  return result;
}

void send(int msqid, std::size_t bytes) {
  struct {
    long type;
    char text[512];
  } message{1, {}};
  checked(::msgsnd(msqid, &message, bytes, 0), "msgsnd");
}

void receive(int msqid) {
  struct {
    long type;
    char text[512];
  } message{};
  checked(static_cast<int>(::msgrcv(msqid, &message, sizeof message.text, 0, IPC_NOWAIT)),
          "msgrcv");
}

void set_owner(IpcKind kind, int id, uid_t uid, gid_t gid, mode_t mode) {
  if (kind == IpcKind::kSemaphore) {
    semid_ds status{};
    checked(::semctl(id, 0, IPC_STAT, &status), "semctl IPC_STAT");
    status.sem_perm.uid = uid;
    status.sem_perm.gid = gid;
    status.sem_perm.mode = mode;
    checked(::semctl(id, 0, IPC_SET, &status), "semctl IPC_SET");
  } else {
    shmid_ds status{};
    checked(::shmctl(id, IPC_STAT, &status), "shmctl IPC_STAT");
    status.shm_perm.uid = uid;
    status.shm_perm.gid = gid;
    status.shm_perm.mode = mode;
    checked(::shmctl(id, IPC_SET, &status), "shmctl IPC_SET");
  }
}

TEST_F(ObjectsWalk, ObjectsAtEachMomentEqualWhatIpcsSaid) {
  start_agent();
  ASSERT_TRUE(wait_for_tick_after(0)) << testing::read_text(log_);

  int queue_a = -1, queue_b = -1, queue_c = -1, queue_d = -1;
  int sem_1 = -1, sem_2 = -1, sem_3 = -1;
  int shm_1 = -1, shm_2 = -1;
  void* attached_1 = nullptr;
  std::vector<void*> attached_2;
  std::int64_t queue_b_removed_after = 0, queue_b_removed_before = 0;

  std::vector<std::function<void()>> steps = {
      [&] { queue_a = checked(::msgget(0x1001, IPC_CREAT | 0600), "msgget"); },
      [&] { send(queue_a, 100); },
      [&] { sem_1 = checked(::semget(0x2001, 4, IPC_CREAT | 0640), "semget"); },
      [&] { shm_1 = checked(::shmget(0x3001, 10000, IPC_CREAT | 0600), "shmget"); },
      [&] { attached_1 = ::shmat(shm_1, nullptr, 0); },
      [&] {
        send(queue_a, 7);
        send(queue_a, 300);
      },
      [&] { queue_b = checked(::msgget(IPC_PRIVATE, IPC_CREAT | 0666), "msgget"); },
      [&] { receive(queue_a); },
      [&] { sem_2 = checked(::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600), "semget"); },
      [&] { set_owner(IpcKind::kSemaphore, sem_1, 1, 1, 0664); },  // to daemon
      [&] { set_owner(IpcKind::kSharedMemory, shm_1, 0, 0, 0640); },
      [&] { ::shmdt(attached_1); },
      [&] {
        queue_b_removed_after = unix_now_ms();
        remove_queue(queue_b);
      },
      [&] { shm_2 = checked(::shmget(IPC_PRIVATE, 1 << 20, IPC_CREAT | 0600), "shmget"); },
      [&] {
        attached_2.push_back(::shmat(shm_2, nullptr, 0));
        attached_2.push_back(::shmat(shm_2, nullptr, SHM_RDONLY));
      },
      [&] { remove_semaphore_array(sem_2); },
      [&] {
        for (int i = 0; i < 3; ++i) send(queue_a, 1);
      },
      [&] { queue_c = checked(::msgget(0x1003, IPC_CREAT | 0600), "msgget"); },
      [&] {
        // Hand queue B's id out again: the kernel's checkpoint/restore knob.
        set_kernel_value("msg_next_id", std::to_string(queue_b));
        queue_d = checked(::msgget(0x1004, IPC_CREAT | 0600), "msgget");
      },
      [&] { remove_segment(shm_1); },
      [&] { ::shmdt(attached_2.back()); },
      [&] { remove_queue(queue_a); },
      [&] { sem_3 = checked(::semget(0x2003, 250, IPC_CREAT | 0600), "semget"); },
      [&] { send(queue_c, 50); },
      [&] { remove_segment(shm_2); },  // still attached once: "dest", listed until detached
      [&] { ::shmdt(attached_2.front()); },
      [&] { remove_semaphore_array(sem_1); },
      [&] { send(queue_d, 1); },
      [&] { remove_semaphore_array(sem_3); },
      [&] { remove_queue(queue_c); },
  };

  std::vector<std::pair<std::int64_t, std::set<std::string>>> moments;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    steps[i]();
    std::int64_t done = unix_now_ms();
    testing::CommandResult ipcs = testing::run_shell("ipcs -a");
    ASSERT_EQ(ipcs.exit_code, 0) << ipcs.output;
    ASSERT_TRUE(wait_for_tick_after(done)) << "step " << i;
    if (i == 12) queue_b_removed_before = unix_now_ms();
    moments.emplace_back(unix_now_ms(), ipcs_objects(ipcs.output));
  }
  EXPECT_EQ(queue_d, queue_b);
  EXPECT_EQ(agent_->stop(SIGTERM), 0);

  for (std::size_t i = 0; i < moments.size(); ++i) {
    testing::CommandResult listed = testing::run_ipctrail(
        "objects --db " + db_ + " --format csv --at " + iso8601_utc(moments[i].first));
    ASSERT_EQ(listed.exit_code, 0) << listed.output;
    EXPECT_EQ(join(stored_objects(listed.output)), join(moments[i].second)) << "after step " << i;
  }

  // Queue B's removal is logged with its time, and its reused id is another incarnation.
  SQLite::Database db(db_, SQLite::OPEN_READONLY);
  SQLite::Statement removed(db,
                            "SELECT ts FROM object_events WHERE kind = 'msg' AND id = ? AND "
                            "event = 'removed' ORDER BY ts LIMIT 1");
  removed.bind(1, queue_b);
  ASSERT_TRUE(removed.executeStep());
  EXPECT_GT(removed.getColumn(0).getInt64(), queue_b_removed_after);
  EXPECT_LE(removed.getColumn(0).getInt64(), queue_b_removed_before);
  SQLite::Statement incarnations(
      db,
      "SELECT group_concat(key_hex) FROM (SELECT key_hex FROM objects WHERE kind = 'msg' AND "
      "id = ? ORDER BY incarnation)");
  incarnations.bind(1, queue_b);
  ASSERT_TRUE(incarnations.executeStep());
  EXPECT_EQ(incarnations.getColumn(0).getString(), "0x00000000,0x00001004");
  EXPECT_EQ(
      db.execAndGet("SELECT count(*) FROM object_events WHERE event = 'owner_changed'").getInt(),
      1);
  EXPECT_EQ(db.execAndGet("SELECT details FROM object_events WHERE event = 'mode_changed' AND "
                          "kind = 'shm'")
                .getString(),
            "600 -> 640");
}

void set_queue_capacity(int msqid, std::uint64_t bytes) {
  msqid_ds status{};
  checked(::msgctl(msqid, IPC_STAT, &status), "msgctl IPC_STAT");
  status.msg_qbytes = bytes;
  checked(::msgctl(msqid, IPC_SET, &status), "msgctl IPC_SET");
}

// msg_qbytes is not in procfs: the agent reads it with msgctl, keeps it as a state that moves with
// IPC_SET, and `objects` shows the one in effect at each moment.
TEST_F(ObjectsWalk, AQueueCapacityIsKeptAsItWasAtEachMoment) {
  int queue = checked(::msgget(0x1101, IPC_CREAT | 0600), "msgget");
  set_queue_capacity(queue, 4000);
  start_agent();
  std::int64_t first = unix_now_ms();
  ASSERT_TRUE(wait_for_tick_after(first)) << testing::read_text(log_);
  std::int64_t before_change = unix_now_ms();
  set_queue_capacity(queue, 9000);
  std::int64_t changed = unix_now_ms();
  ASSERT_TRUE(wait_for_tick_after(changed)) << testing::read_text(log_);
  std::int64_t after_change = unix_now_ms();
  EXPECT_EQ(agent_->stop(SIGTERM), 0);

  SQLite::Database db(db_, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("SELECT qbytes FROM objects WHERE kind = 'msg'").getInt64(), 9000);
  EXPECT_EQ(db.execAndGet("SELECT count(*) FROM objects").getInt64(), 1);  // the same incarnation

  testing::CommandResult then = testing::run_ipctrail("objects --kind msg --format json --db " +
                                                      db_ + " --at " + iso8601_utc(before_change));
  ASSERT_EQ(then.exit_code, 0) << then.output;
  EXPECT_NE(then.output.find("\"qbytes\":4000"), std::string::npos) << then.output;
  testing::CommandResult now = testing::run_ipctrail("objects --kind msg --db " + db_ + " --at " +
                                                     iso8601_utc(after_change));
  ASSERT_EQ(now.exit_code, 0) << now.output;
  EXPECT_NE(now.output.find("qbytes"), std::string::npos) << now.output;
  std::istringstream lines(now.output);
  std::vector<std::string> row;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("0x00001101", 0) == 0) row = words(line);
  }
  ASSERT_GE(row.size(), 7u) << now.output;
  EXPECT_EQ(row[5], "9000") << now.output;  // key msqid owner perms used-bytes qbytes ...
}

}  // namespace
}  // namespace ipctrail
