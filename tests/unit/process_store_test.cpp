// Who made the IPC calls, in the history file (real SQLite files, synthetic BPF readings): per-tick
// counts, the processes table, creators and removers matched to incarnations by the documented
// rules, objects no tick saw, losses, the reader behind `who`, migration and retention.
#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>
#include <sys/ipc.h>
#include <unistd.h>

#include <filesystem>

#include "storage/history_reader.h"
#include "storage/schema.h"
#include "storage/store.h"
#include "tests/support/history_file_test.h"
#include "tests/support/ipc_object_values.h"

namespace ipctrail {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kT0 = 1'795'000'000'000;  // on a whole second
constexpr std::uint64_t kApacheCgroup = 4242;

ProcessIdentity apache(std::int32_t pid = 4711) {
  return {.tgid = pid, .comm = "apache2", .cgroup_id = kApacheCgroup, .ipc_namespace = 1};
}
ProcessIdentity logind() {
  return {.tgid = 612, .comm = "systemd-logind", .cgroup_id = 7, .ipc_namespace = 1};
}

using testing::semaphore_array;

LifecycleEvent created(int id, std::int64_t ts_ms, const ProcessIdentity& process,
                       std::int32_t key = IPC_PRIVATE, std::uint32_t flags = IPC_CREAT | 0600) {
  return {.ts_ms = ts_ms,
          .action = LifecycleAction::kCreated,
          .kind = IpcKind::kSemaphore,
          .id = id,
          .key = key,
          .flags = flags,
          .process = process,
          .tid = process.tgid,
          .uid = 0};
}

LifecycleEvent removed(int id, std::int64_t ts_ms, const ProcessIdentity& process) {
  return {.ts_ms = ts_ms,
          .action = LifecycleAction::kRemoved,
          .kind = IpcKind::kSemaphore,
          .id = id,
          .key = std::nullopt,
          .flags = 0,
          .process = process,
          .tid = process.tgid,
          .uid = 0};
}

ProcessCallCount count(const ProcessIdentity& process, IpcCall call,
                       std::optional<ErrnoClass> error, std::uint64_t n) {
  return {.process = process, .call = call, .error = error, .count = n};
}

ProcessTickRecord with_events(std::vector<LifecycleEvent> events) {
  ProcessTickRecord record;
  record.events = std::move(events);
  return record;
}
ProcessTickRecord with_calls(std::vector<ProcessCallCount> calls) {
  ProcessTickRecord record;
  record.calls = std::move(calls);
  return record;
}
ProcessTickRecord losses(std::uint64_t calls_not_attributed, std::uint64_t events_lost) {
  ProcessTickRecord record;
  record.calls_not_attributed = calls_not_attributed;
  record.events_lost = events_lost;
  return record;
}

// A tick at kT0 + second s, with these arrays and this BPF reading.
TickRecord tick(int second, std::vector<IpcObject> arrays, ProcessTickRecord processes = {}) {
  TickRecord record;
  record.ts_ms = kT0 + second * 1000;
  record.interval_ms = 1000;
  record.objects.semaphores = std::move(arrays);
  record.objects.queues.emplace();
  record.objects.segments.emplace();
  processes.cgroup_owners.emplace(kApacheCgroup, "apache2.service");
  record.processes = std::move(processes);
  return record;
}

class ProcessStoreTest : public testing::HistoryFileTest {};

TEST_F(ProcessStoreTest, CountsAreNonZeroRowsPerTickUnderOneProcessRow) {
  Store store(options());
  for (int s = 0; s < 5; ++s) {
    ProcessTickRecord processes;
    processes.calls = {count(apache(), IpcCall::kSemget, ErrnoClass::kENOSPC, 6),
                       count(apache(), IpcCall::kSemop, std::nullopt, 100),
                       count(logind(), IpcCall::kSemctl, std::nullopt, 0)};
    store.write_tick(tick(s, {}, processes));
  }
  EXPECT_EQ(number("SELECT count(*) FROM processes"), 1);  // logind's zero wrote nothing
  EXPECT_EQ(number("SELECT count(*) FROM process_call_counts"), 10);
  EXPECT_EQ(number("SELECT sum(count) FROM process_calls WHERE comm = 'apache2' AND "
                   "call = 'semget' AND errno = 'ENOSPC'"),
            30);
  EXPECT_EQ(number("SELECT sum(count) FROM process_calls WHERE call = 'semop' AND errno IS NULL"),
            500);
  EXPECT_EQ(text("SELECT unit FROM process_calls LIMIT 1"), "apache2.service");
  EXPECT_EQ(text("SELECT DISTINCT pid FROM process_calls"), "4711");
  EXPECT_EQ(number("SELECT count(*) FROM process_spans"), 1);
  EXPECT_EQ(number("SELECT last_ts FROM process_spans"), kT0 + 4000);
}

TEST_F(ProcessStoreTest, TheCreatorOfAnArrayMadeWithIpcPrivateIsNamed) {
  Store store(options());
  std::int64_t ctime = kT0 / 1000;
  // Made between the inventory read and the BPF read of tick 0: seen first by tick 1.
  store.write_tick(tick(0, {}, with_events({created(3, kT0 + 10, apache())})));
  store.write_tick(tick(1, {semaphore_array(3, ctime)}));
  EXPECT_EQ(text("SELECT created_by FROM objects WHERE id = 3"),
            "apache2 (pid 4711, apache2.service)");
  EXPECT_EQ(text("SELECT process FROM object_events WHERE event = 'created'"),
            "apache2 (pid 4711, apache2.service)");
  HistoryReader reader(path_);
  std::vector<StoredObject> objects = reader.objects_at(kT0 + 1000);
  ASSERT_EQ(objects.size(), 1u);
  ASSERT_TRUE(objects[0].creator);
  EXPECT_EQ(*objects[0].creator, (ProcessRef{4711, "apache2", "apache2.service"}));
  EXPECT_FALSE(objects[0].remover);
}

TEST_F(ProcessStoreTest, AGetThatFoundAnExistingObjectIsNotItsCreator) {
  Store store(options());
  std::int64_t ctime = kT0 / 1000 - 3600;
  store.write_tick(tick(0, {semaphore_array(3, ctime, 0x1234)}));
  // A later semget(0x1234, 1, IPC_CREAT) returns the same id: it found the array.
  store.write_tick(tick(1, {semaphore_array(3, ctime, 0x1234)},
                        with_events({created(3, kT0 + 500, apache(), 0x1234)})));
  store.write_tick(tick(2, {semaphore_array(3, ctime, 0x1234)}));
  EXPECT_EQ(text("SELECT created_by FROM objects WHERE id = 3"), "NULL");
}

TEST_F(ProcessStoreTest, WithoutIpcExclTheKernelsCtimeMustBeTheEventsSecond) {
  Store store(options());
  std::int64_t second = kT0 / 1000;
  // Two arrays first seen after their events; only array 4's ctime fits its event.
  store.write_tick(tick(
      0, {},
      with_events({created(4, kT0 + 300, apache(), 0x44), created(5, kT0 + 300, apache(), 0x55)})));
  store.write_tick(
      tick(1, {semaphore_array(4, second, 0x44), semaphore_array(5, second - 30, 0x55)}));
  EXPECT_EQ(text("SELECT creator_comm FROM objects WHERE id = 4"), "apache2");
  EXPECT_EQ(text("SELECT creator_comm FROM objects WHERE id = 5"), "NULL");

  // With IPC_EXCL the call surely created it, whatever ctime says (an IPC_SET moves it).
  store.write_tick(
      tick(2, {semaphore_array(4, second, 0x44), semaphore_array(5, second - 30, 0x55)},
           with_events({created(6, kT0 + 2100, apache(), 0x66, IPC_CREAT | IPC_EXCL | 0600)})));
  store.write_tick(tick(3, {semaphore_array(4, second, 0x44), semaphore_array(5, second - 30, 0x55),
                            semaphore_array(6, second + 100, 0x66)}));
  EXPECT_EQ(text("SELECT creator_comm FROM objects WHERE id = 6"), "apache2");
}

TEST_F(ProcessStoreTest, TheEarliestOfTwoCreatingGetsWins) {
  Store store(options());
  std::int64_t second = kT0 / 1000;
  store.write_tick(tick(0, {},
                        with_events({created(7, kT0 + 200, apache(4711), 0x77),
                                     created(7, kT0 + 100, apache(4712), 0x77)})));
  store.write_tick(tick(1, {semaphore_array(7, second, 0x77)}));
  EXPECT_EQ(number("SELECT creator_pid FROM objects WHERE id = 7"), 4712);
}

TEST_F(ProcessStoreTest, TheRemoverIsNamedWhetherTheRemovalIsSeenInTheSameTickOrTheNext) {
  Store store(options());
  std::int64_t second = kT0 / 1000 - 60;
  store.write_tick(tick(0, {semaphore_array(1, second), semaphore_array(2, second)}));
  // Array 1 is gone by tick 1's inventory; array 2's IPC_RMID came after it.
  store.write_tick(
      tick(1, {semaphore_array(2, second)},
           with_events({removed(1, kT0 + 500, logind()), removed(2, kT0 + 1001, logind())})));
  EXPECT_EQ(text("SELECT removed_by FROM objects WHERE id = 1"), "systemd-logind (pid 612)");
  EXPECT_EQ(text("SELECT removed_by FROM objects WHERE id = 2"), "NULL");
  store.write_tick(tick(2, {}));
  EXPECT_EQ(text("SELECT removed_by FROM objects WHERE id = 2"), "systemd-logind (pid 612)");
  EXPECT_EQ(number("SELECT count(*) FROM object_events WHERE event = 'removed' AND "
                   "process = 'systemd-logind (pid 612)'"),
            2);
  HistoryReader reader(path_);
  std::vector<ObjectEvent> events = reader.object_events(kT0, kT0 + 2000);
  auto removal = std::find_if(events.begin(), events.end(),
                              [](const ObjectEvent& e) { return e.event == "removed"; });
  ASSERT_NE(removal, events.end());
  ASSERT_TRUE(removal->process);
  EXPECT_EQ(removal->process->comm, "systemd-logind");
}

TEST_F(ProcessStoreTest, AnObjectMadeAndRemovedBetweenTwoTicksStillHasItsEvents) {
  Store store(options());
  store.write_tick(tick(0, {}));
  store.write_tick(
      tick(1, {}, with_events({created(9, kT0 + 300, apache()), removed(9, kT0 + 400, logind())})));
  store.write_tick(tick(2, {}));
  EXPECT_EQ(number("SELECT count(*) FROM objects"), 0);
  EXPECT_EQ(text("SELECT group_concat(event || ' ' || process, '; ') FROM (SELECT * FROM "
                 "object_events WHERE incarnation IS NULL ORDER BY ts)"),
            "created apache2 (pid 4711, apache2.service); removed systemd-logind (pid 612)");
  HistoryReader reader(path_);
  std::vector<ObjectEvent> events = reader.object_events(kT0, kT0 + 3000);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].incarnation, 0);
  EXPECT_EQ(events[0].id, 9);
  ASSERT_TRUE(events[1].process);
  EXPECT_EQ(events[1].process->pid, 612);
}

// Ids are reused (at once with /proc/sys/kernel/sem_next_id, as checkpoint/restore does): an array
// made and removed after one inventory, its id taken again before the next, must not give its
// maker to the array the next inventory sees.
TEST_F(ProcessStoreTest, ACreationWaitingForItsArrayIsNotMatchedToALaterArrayAtTheSameId) {
  Store store(options());
  store.write_tick(
      tick(0, {},
           with_events({created(3, kT0 + 10, apache(4711)), removed(3, kT0 + 20, logind()),
                        created(3, kT0 + 30, apache(4800))})));
  store.write_tick(tick(1, {semaphore_array(3, kT0 / 1000)}));
  EXPECT_EQ(number("SELECT creator_pid FROM objects WHERE id = 3"), 4800);
  EXPECT_EQ(text("SELECT group_concat(event || ' ' || pid, '; ') FROM (SELECT * FROM "
                 "object_events WHERE incarnation IS NULL ORDER BY ts)"),
            "created 4711; removed 612");
}

// The same when the removal and the second creation are read by the tick whose inventory shows
// the second array (they came before that inventory: before the tick's time), and the removal is
// not kept waiting to be pinned on the second array when it goes.
TEST_F(ProcessStoreTest, ARemovalReadWithALaterArrayAtTheSameIdIsNotPinnedOnIt) {
  Store store(options());
  store.write_tick(tick(0, {}, with_events({created(3, kT0 + 10, apache(4711))})));
  store.write_tick(
      tick(1, {semaphore_array(3, kT0 / 1000)},
           with_events({removed(3, kT0 + 500, logind()), created(3, kT0 + 600, apache(4800))})));
  EXPECT_EQ(number("SELECT creator_pid FROM objects WHERE id = 3"), 4800);
  store.write_tick(tick(2, {semaphore_array(3, kT0 / 1000)}));
  store.write_tick(tick(3, {}));  // gone, its IPC_RMID not seen
  EXPECT_EQ(text("SELECT removed_by FROM objects WHERE id = 3"), "NULL");
  EXPECT_EQ(text("SELECT group_concat(event || ' ' || pid, '; ') FROM (SELECT * FROM "
                 "object_events WHERE incarnation IS NULL ORDER BY ts)"),
            "created 4711; removed 612");
}

TEST_F(ProcessStoreTest, AnOwnerNamedLaterFillsInTheProcessesStoredWithoutOne) {
  Store store(options());
  ProcessTickRecord unnamed = with_calls({count(logind(), IpcCall::kSemctl, std::nullopt, 1)});
  store.write_tick(tick(0, {}, unnamed));
  EXPECT_EQ(text("SELECT unit FROM processes"), "NULL");
  ProcessTickRecord late;
  late.late_cgroup_owners.emplace(logind().cgroup_id, "systemd-logind.service");
  store.write_tick(tick(1, {}, late));
  EXPECT_EQ(text("SELECT unit FROM process_calls"), "systemd-logind.service");
}

TEST_F(ProcessStoreTest, LossesAreStoredForTheTicksThatHadThem) {
  Store store(options());
  store.write_tick(tick(0, {}, losses(0, 0)));
  store.write_tick(tick(1, {}, losses(17, 2)));
  EXPECT_EQ(number("SELECT count(*) FROM process_losses"), 1);
  HistoryReader reader(path_);
  ProcessCoverage coverage = reader.process_coverage(kT0, kT0 + 1000);
  EXPECT_EQ(coverage.calls_not_attributed, 17);
  EXPECT_EQ(coverage.events_lost, 2);
  ASSERT_EQ(coverage.counted.size(), 1u);
  EXPECT_EQ(coverage.counted[0], std::make_pair(kT0, kT0 + 1000));
}

TEST_F(ProcessStoreTest, TicksWithoutBpfEndThePerProcessSpan) {
  Store store(options());
  store.write_tick(tick(0, {}));
  TickRecord off = tick(1, {});
  off.processes.reset();
  store.write_tick(off);
  store.write_tick(tick(2, {}));
  HistoryReader reader(path_);
  EXPECT_EQ(reader.process_coverage(kT0, kT0 + 2000).counted.size(), 2u);
  EXPECT_TRUE(reader.process_coverage(kT0 + 500, kT0 + 1500).counted.empty());
  EXPECT_EQ(reader.process_coverage(kT0 + 500, kT0 + 1500).sampling.size(), 1u);
}

TEST_F(ProcessStoreTest, TheReaderSumsByProcessNameUnitCallAndErrnoLargestFirst) {
  Store store(options());
  for (int s = 0; s < 3; ++s) {
    ProcessTickRecord processes;
    processes.calls = {count(apache(4711), IpcCall::kSemget, ErrnoClass::kENOSPC, 4),
                       count(apache(4712), IpcCall::kSemget, ErrnoClass::kENOSPC, 4),
                       count(logind(), IpcCall::kSemctl, std::nullopt, 1)};
    store.write_tick(tick(s, {}, processes));
  }
  HistoryReader reader(path_);
  std::vector<ProcessCallTotal> totals =
      reader.process_call_totals(kT0, kT0 + 2000, std::nullopt, false);
  ASSERT_EQ(totals.size(), 2u);
  EXPECT_EQ(totals[0].comm, "apache2");
  EXPECT_EQ(totals[0].unit, "apache2.service");
  EXPECT_EQ(totals[0].pids, (std::vector<std::int32_t>{4711, 4712}));
  EXPECT_EQ(totals[0].call, "semget");
  EXPECT_EQ(totals[0].error, "ENOSPC");
  EXPECT_EQ(totals[0].count, 24);
  EXPECT_EQ(totals[0].first_ms, kT0);
  EXPECT_EQ(totals[0].last_ms, kT0 + 2000);
  EXPECT_EQ(totals[1].comm, "systemd-logind");
  EXPECT_FALSE(totals[1].unit);
  EXPECT_FALSE(totals[1].error);
  EXPECT_EQ(reader.process_call_totals(kT0, kT0 + 2000, std::nullopt, true).size(), 1u);
  EXPECT_EQ(reader.process_call_totals(kT0, kT0 + 2000, "semctl", false).size(), 1u);
  EXPECT_EQ(reader.process_call_totals(kT0 + 1, kT0 + 999, std::nullopt, false).size(), 0u);
}

TEST_F(ProcessStoreTest, UpgradesThePreviousVersionInPlaceKeepingItsObjects) {
  fs::create_directories(dir_);
  {
    SQLite::Database old(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    migrate(old, path_.string(), kSchemaVersion - 1);
    old.exec(
        "INSERT INTO ipc_objects (kind, ipc_id, key, cuid, cgid, size, created_ts, "
        "first_seen_ts) VALUES ('sem', 1, 0, 0, 0, 1, " +
        std::to_string(kT0 - 60000) + ", " + std::to_string(kT0 - 60000) + ")");
    old.exec("INSERT INTO ipc_object_states (object_id, ts, uid, gid, mode) VALUES (1, " +
             std::to_string(kT0 - 60000) + ", 0, 0, 384)");
    // Since version 7 a `created` event is not stored: object_events derives it.
  }
  {
    Store store(options());
    store.write_tick(tick(0, {semaphore_array(1, (kT0 - 60000) / 1000)},
                          with_calls({count(apache(), IpcCall::kSemop, std::nullopt, 1)})));
  }
  EXPECT_EQ(number("PRAGMA user_version"), kSchemaVersion);
  EXPECT_EQ(number("SELECT count(*) FROM objects"), 1);
  EXPECT_EQ(text("SELECT created_by FROM objects"), "NULL");
  EXPECT_EQ(number("SELECT count(*) FROM object_events"), 1);
  EXPECT_EQ(number("SELECT count(*) FROM process_calls"), 1);
}

TEST_F(ProcessStoreTest, RetentionDeletesOldCountsAndProcessesButKeepsTheCreatorOfALiveObject) {
  StoreOptions opts = options();
  opts.retention.max_age = std::chrono::hours(1);
  opts.retention.every = std::chrono::milliseconds(0);
  std::int64_t second = kT0 / 1000;
  {
    Store store(opts);
    ProcessTickRecord early;
    early.calls = {count(apache(), IpcCall::kSemget, std::nullopt, 1),
                   count(logind(), IpcCall::kSemctl, std::nullopt, 1)};
    early.events = {created(1, kT0 + 100, apache())};
    early.calls_not_attributed = 3;
    store.write_tick(tick(0, {}, early));
    store.write_tick(tick(1, {semaphore_array(1, second)}));
    // Two hours later, the array still lives; nobody calls any more.
    for (int s = 7200; s < 7203; ++s) store.write_tick(tick(s, {semaphore_array(1, second)}));
  }
  EXPECT_EQ(number("SELECT count(*) FROM process_call_counts"), 0);
  EXPECT_EQ(number("SELECT count(*) FROM process_losses"), 0);
  EXPECT_EQ(text("SELECT group_concat(comm) FROM processes"), "apache2");
  EXPECT_EQ(text("SELECT created_by FROM objects"), "apache2 (pid 4711, apache2.service)");
  EXPECT_EQ(number("SELECT min(start_ts) FROM process_spans"), kT0 + 7200 * 1000);
}

}  // namespace
}  // namespace ipctrail
