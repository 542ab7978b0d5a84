// The IPC object inventory in the history file (real SQLite files): change-only states, new
// incarnations for reused ids, the lifecycle log, restarts, migration and retention.
#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include "model/time_text.h"
#include "storage/history_reader.h"
#include "storage/retention.h"
#include "storage/schema.h"
#include "storage/store.h"
#include "tests/support/history_file_test.h"
#include "tests/support/ipc_object_values.h"

namespace ipctrail {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kT0 = 1'795'000'000'000;
constexpr std::int64_t kCtime = kT0 / 1000 - 600;

IpcObject queue(int id, std::int32_t key, std::uint64_t qnum = 0) {
  IpcObject object;
  object.kind = IpcKind::kQueue;
  object.id = id;
  object.key = key;
  object.mode = 0600;
  object.uid = object.cuid = 1000;
  object.gid = object.cgid = 1000;
  object.ctime = kCtime;
  object.qnum = qnum;
  object.cbytes = qnum * 10;
  return object;
}

IpcObject array(int id, std::int64_t otime) {
  IpcObject object = testing::semaphore_array(id, kCtime, 0x2000 + id, 4);
  object.otime = otime;
  return object;
}

TickRecord tick(std::int64_t ts, std::vector<IpcObject> queues,
                std::optional<std::vector<IpcObject>> arrays = std::vector<IpcObject>{}) {
  TickRecord record;
  record.ts_ms = ts;
  record.interval_ms = 1000;
  record.objects.queues = std::move(queues);
  record.objects.semaphores = std::move(arrays);
  record.objects.segments.emplace();
  return record;
}

class ObjectStoreTest : public testing::HistoryFileTest {};

TEST_F(ObjectStoreTest, SteadyObjectsWriteNothingAfterTheirFirstTick) {
  Store store(options());
  std::vector<IpcObject> queues;
  for (int i = 0; i < 1000; ++i) queues.push_back(queue(i, 0x1000 + i));
  for (int t = 0; t < 10; ++t) store.write_tick(tick(kT0 + t * 1000, queues));
  EXPECT_EQ(number("SELECT count(*) FROM ipc_objects"), 1000);
  EXPECT_EQ(number("SELECT count(*) FROM ipc_object_states"), 1000);
  EXPECT_EQ(number("SELECT count(*) FROM object_events WHERE event = 'created'"), 1000);
  EXPECT_EQ(number("SELECT count(*) FROM ipc_object_events"), 0);  // derived from ipc_objects

  queues[7].qnum = 3;  // one queue moves
  store.write_tick(tick(kT0 + 10'000, queues));
  EXPECT_EQ(number("SELECT count(*) FROM ipc_object_states"), 1001);
  EXPECT_EQ(number("SELECT qnum FROM ipc_object_states WHERE ts = " + std::to_string(kT0 + 10'000)),
            3);
}

// The store walks each tick's objects in the order of the previous tick's: objects listed in
// another order, removed from the middle, added, or listed twice are still matched by id.
TEST_F(ObjectStoreTest, ObjectsListedInAnyOrderKeepTheirIncarnations) {
  Store store(options());
  store.write_tick(tick(kT0, {queue(1, 0x11), queue(2, 0x12), queue(3, 0x13), queue(4, 0x14)}));
  TickRecord second = tick(kT0 + 1000, {queue(4, 0x14), queue(2, 0x12, 5), queue(1, 0x11)});
  second.leak_suspects = std::vector<LeakSuspect>{{IpcKind::kQueue, 4, 0x14, "stalled"},
                                                  {IpcKind::kQueue, 1, 0x11, "stalled"}};
  store.write_tick(second);
  TickRecord third = tick(kT0 + 2000, {queue(2, 0x12, 5), queue(5, 0x15), queue(4, 0x14),
                                       queue(1, 0x11), queue(2, 0x12, 5)});
  third.leak_suspects = std::vector<LeakSuspect>{{IpcKind::kQueue, 4, 0x14, "stalled"},
                                                 {IpcKind::kQueue, 4, 0x14, "stalled"}};
  store.write_tick(third);
  store.write_tick(tick(kT0 + 3000, {queue(1, 0x11), queue(4, 0x14)}));

  EXPECT_EQ(number("SELECT count(*) FROM ipc_objects"), 5);
  EXPECT_EQ(text("SELECT group_concat(ipc_id) FROM (SELECT ipc_id FROM ipc_objects WHERE "
                 "removed_ts IS NOT NULL ORDER BY ipc_id)"),
            "2,3,5");
  EXPECT_EQ(number("SELECT removed_ts FROM ipc_objects WHERE ipc_id = 3"), kT0 + 1000);
  EXPECT_EQ(number("SELECT removed_ts FROM ipc_objects WHERE ipc_id = 2"), kT0 + 3000);
  EXPECT_EQ(number("SELECT count(*) FROM ipc_object_states"), 6);  // 5 first states, 2's qnum
  EXPECT_EQ(text("SELECT group_concat(o.ipc_id || ':' || e.event, ' ') FROM (SELECT * FROM "
                 "ipc_object_events ORDER BY ts, object_id) e JOIN ipc_objects o ON o.id = "
                 "e.object_id"),
            "1:leak_suspected 4:leak_suspected 1:leak_cleared 4:leak_cleared");
}

TEST_F(ObjectStoreTest, OperationTimesAreStoredToTheMinute) {
  Store store(options());
  std::int64_t minute = (kT0 / 1000 / 60) * 60;
  for (int t = 0; t < 59; ++t) {  // a semop every second within one minute
    store.write_tick(tick(kT0 + t * 1000, {}, std::vector{array(1, minute + t)}));
  }
  EXPECT_EQ(number("SELECT count(*) FROM ipc_object_states"), 1);
  store.write_tick(tick(kT0 + 60'000, {}, std::vector{array(1, minute + 60)}));
  EXPECT_EQ(number("SELECT count(*) FROM ipc_object_states"), 2);
  EXPECT_EQ(number("SELECT max(otime) FROM ipc_object_states"), minute + 60);
}

// created and removed are derived from the incarnation's row and first state, found by time.
TEST_F(ObjectStoreTest, CreatedAndRemovedEventsCarryTheirDetails) {
  Store store(options());
  IpcObject segment;
  segment.kind = IpcKind::kSharedMemory;
  segment.id = 9;
  segment.key = 0x162e;
  segment.mode = 0640;
  segment.uid = 1000;
  segment.gid = 100;
  segment.size = 4096;
  segment.cpid = 4242;
  segment.ctime = kCtime;
  TickRecord first = tick(kT0, {});
  first.objects.segments = std::vector{segment};
  store.write_tick(first);
  store.write_tick(tick(kT0 + 1000, {}));
  HistoryReader reader(path_);
  std::vector<ObjectEvent> events = reader.object_events(kCtime * 1000, kT0 + 1000);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event, "created");
  EXPECT_EQ(events[0].ts_ms, kCtime * 1000);
  EXPECT_EQ(events[0].details,
            "key 0x0000162e, owner 1000:100, creator 0:0, mode 640, size 4096 bytes, creator pid "
            "4242");
  EXPECT_EQ(events[1].event, "removed");
  EXPECT_EQ(events[1].ts_ms, kT0 + 1000);
  EXPECT_EQ(events[1].details, "gone since the tick at " + iso8601_utc(kT0));
  EXPECT_TRUE(reader.object_events(kT0 + 1, kT0 + 999).empty());
}

TEST_F(ObjectStoreTest, AReusedIdIsANewIncarnationAndTheRemovalIsLogged) {
  Store store(options());
  store.write_tick(tick(kT0, {queue(5, 0x1111)}));
  store.write_tick(tick(kT0 + 1000, {queue(5, 0x1111)}));
  store.write_tick(tick(kT0 + 2000, {queue(5, 0x2222)}));  // removed and made again in between
  EXPECT_EQ(text("SELECT group_concat(key_hex) FROM (SELECT key_hex FROM objects ORDER BY "
                 "incarnation)"),
            "0x00001111,0x00002222");
  EXPECT_EQ(number("SELECT removed_ts FROM objects WHERE key_hex = '0x00001111'"), kT0 + 2000);
  EXPECT_EQ(number("SELECT last_seen_ts FROM objects WHERE key_hex = '0x00001111'"), kT0 + 1000);
  EXPECT_EQ(number("SELECT count(*) FROM object_events WHERE event = 'removed' AND ts = " +
                   std::to_string(kT0 + 2000)),
            1);

  // Same key, but its operation times went back to 0: also a new object.
  IpcObject used = queue(6, 0x3333, 1);
  used.stime = kCtime + 60;
  store.write_tick(tick(kT0 + 3000, {queue(5, 0x2222), used}));
  store.write_tick(tick(kT0 + 4000, {queue(5, 0x2222), queue(6, 0x3333)}));
  EXPECT_EQ(number("SELECT count(*) FROM objects WHERE id = 6"), 2);
}

TEST_F(ObjectStoreTest, OwnerAndModeChangesAreEventsOfTheSameIncarnation) {
  Store store(options());
  store.write_tick(tick(kT0, {queue(1, 0x10)}));
  IpcObject changed = queue(1, 0x10);
  changed.uid = 0;
  changed.gid = 0;
  changed.mode = 0640;
  changed.ctime = kCtime + 300;  // IPC_SET moves ctime
  store.write_tick(tick(kT0 + 1000, {changed}));
  EXPECT_EQ(number("SELECT count(*) FROM objects"), 1);
  EXPECT_EQ(text("SELECT details FROM object_events WHERE event = 'owner_changed'"),
            "1000:1000 -> 0:0");
  EXPECT_EQ(text("SELECT details FROM object_events WHERE event = 'mode_changed'"), "600 -> 640");
  HistoryReader reader(path_);
  ASSERT_EQ(reader.objects_at(kT0 + 500).size(), 1u);
  EXPECT_EQ(reader.objects_at(kT0 + 500)[0].object.uid, 1000u);
  EXPECT_EQ(reader.objects_at(kT0 + 1000)[0].object.uid, 0u);
  EXPECT_EQ(reader.objects_at(kT0 + 1000)[0].created_ms, kCtime * 1000);
  EXPECT_TRUE(reader.objects_at(kT0 - 1).empty());
}

TEST_F(ObjectStoreTest, AKindNotReadIsNotRemoved) {
  Store store(options());
  store.write_tick(tick(kT0, {queue(1, 0x10)}, std::vector{array(2, 0)}));
  store.write_tick(tick(kT0 + 1000, {queue(1, 0x10)}, std::nullopt));
  EXPECT_EQ(number("SELECT count(*) FROM objects WHERE removed_ts IS NULL"), 2);
  store.write_tick(tick(kT0 + 2000, {queue(1, 0x10)}));
  EXPECT_EQ(number("SELECT count(*) FROM objects WHERE removed_ts IS NULL"), 1);
}

TEST_F(ObjectStoreTest, ARestartContinuesTheSameIncarnations) {
  {
    Store store(options());
    store.write_tick(tick(kT0, {queue(1, 0x10, 2), queue(2, 0x20)}));
  }
  {
    Store store(options());
    // Queue 2 went away while the agent was down.
    store.write_tick(tick(kT0 + 60'000, {queue(1, 0x10, 2)}));
  }
  EXPECT_EQ(number("SELECT count(*) FROM objects"), 2);
  EXPECT_EQ(number("SELECT count(*) FROM ipc_object_states"), 2);
  EXPECT_EQ(number("SELECT removed_ts FROM objects WHERE id = 2"), kT0 + 60'000);
  EXPECT_EQ(number("SELECT last_seen_ts FROM objects WHERE id = 2"), kT0);
}

TEST_F(ObjectStoreTest, UpgradesAVersion4FileInPlace) {
  fs::create_directories(dir_);
  {
    SQLite::Database old(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    migrate(old, path_.string(), 4);
    old.exec("INSERT INTO sampling_spans (start_ts, last_ts, interval_ms) VALUES (" +
             std::to_string(kT0 - 60000) + ", " + std::to_string(kT0 - 50000) + ", 1000)");
  }
  {
    Store store(options());
    store.write_tick(tick(kT0, {queue(1, 0x10)}));
  }
  EXPECT_EQ(number("PRAGMA user_version"), kSchemaVersion);
  EXPECT_EQ(number("SELECT count(*) FROM spans"), 2);
  EXPECT_EQ(number("SELECT count(*) FROM objects"), 1);
}

TEST_F(ObjectStoreTest, RetentionDeletesOldIncarnationsAndKeepsLiveOnes) {
  StoreOptions opts = options();
  opts.retention.max_age = std::chrono::hours(1);
  opts.retention.every = std::chrono::milliseconds(0);
  Store store(opts);
  store.write_tick(tick(kT0, {queue(1, 0x10, 1), queue(2, 0x20)}));
  store.write_tick(tick(kT0 + 1000, {queue(1, 0x10, 2)}));  // queue 2 removed
  for (std::int64_t ts = kT0 + 10'000; ts <= kT0 + 3 * 3'600'000; ts += 600'000) {
    store.write_tick(tick(ts, {queue(1, 0x10, 3)}));
  }
  EXPECT_EQ(number("SELECT count(*) FROM ipc_objects"), 1);
  EXPECT_EQ(number("SELECT count(*) FROM ipc_object_events WHERE object_id NOT IN (SELECT id "
                   "FROM ipc_objects)"),
            0);
  EXPECT_EQ(number("SELECT count(*) FROM ipc_object_states"), 1);  // superseded states went
  HistoryReader reader(path_);
  ASSERT_EQ(reader.objects_at(kT0 + 3 * 3'600'000).size(), 1u);
  EXPECT_EQ(reader.objects_at(kT0 + 3 * 3'600'000)[0].object.qnum, 3u);
}

TEST_F(ObjectStoreTest, AQueueCapacityIsAStateOfTheSameIncarnation) {
  Store store(options());
  IpcObject small = queue(1, 0x10);
  small.qbytes = 16384;
  IpcObject grown = small;
  grown.qbytes = 65536;
  grown.ctime = kCtime + 300;  // IPC_SET moves ctime
  store.write_tick(tick(kT0, {small}));
  store.write_tick(tick(kT0 + 1000, {small}));
  store.write_tick(tick(kT0 + 2000, {grown}));
  EXPECT_EQ(number("SELECT count(*) FROM objects"), 1);
  EXPECT_EQ(number("SELECT count(*) FROM ipc_object_states"), 2);
  EXPECT_EQ(number("SELECT qbytes FROM objects"), 65536);
  HistoryReader reader(path_);
  EXPECT_EQ(reader.objects_at(kT0 + 1000).at(0).object.qbytes, 16384u);
  EXPECT_EQ(reader.objects_at(kT0 + 2000).at(0).object.qbytes, 65536u);

  // Unknown (not read) is NULL, and only queues have one.
  store.write_tick(tick(kT0 + 3000, {grown, queue(2, 0x20)}, std::vector{array(3, 0)}));
  EXPECT_EQ(number("SELECT count(*) FROM objects WHERE qbytes IS NULL"), 2);
}

TEST_F(ObjectStoreTest, UpgradesAVersion6FileInPlaceWithQueueCapacitiesUnknown) {
  fs::create_directories(dir_);
  {
    SQLite::Database old(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    migrate(old, path_.string(), 6);
    old.exec("INSERT INTO sampling_spans (start_ts, last_ts, interval_ms) VALUES (" +
             std::to_string(kT0 - 60000) + ", " + std::to_string(kT0 - 1000) + ", 1000)");
    old.exec(
        "INSERT INTO ipc_objects (id, kind, ipc_id, key, cuid, cgid, created_ts, "
        "first_seen_ts) VALUES (1, 'msg', 1, 16, 1000, 1000, " +
        std::to_string(kCtime * 1000) + ", " + std::to_string(kT0 - 60000) + ")");
    old.exec(
        "INSERT INTO ipc_object_states (object_id, ts, uid, gid, mode, lspid, lrpid, qnum, "
        "cbytes, stime, rtime) VALUES (1, " +
        std::to_string(kT0 - 60000) + ", 1000, 1000, 384, 0, 0, 2, 20, 0, 0)");
    old.exec("INSERT INTO ipc_object_events (ts, object_id, event, details) VALUES (" +
             std::to_string(kCtime * 1000) +
             ", 1, 'created', 'key 0x00000010, owner 1000:1000, creator 1000:1000, mode 600')");
  }
  IpcObject known = queue(1, 0x10, 2);
  known.qbytes = 16384;
  {
    Store store(options());
    store.write_tick(tick(kT0, {known}));
  }
  EXPECT_EQ(number("PRAGMA user_version"), kSchemaVersion);
  EXPECT_EQ(number("SELECT count(*) FROM objects"), 1);  // the same incarnation goes on
  EXPECT_EQ(number("SELECT count(*) FROM ipc_object_states WHERE qbytes IS NULL"), 1);
  EXPECT_EQ(number("SELECT qbytes FROM objects"), 16384);
  // The stored `created` event went: the view derives it, at the same time, with the same text.
  EXPECT_EQ(number("SELECT count(*) FROM ipc_object_events"), 0);
  EXPECT_EQ(
      text("SELECT time || ' ' || details FROM object_events WHERE event = 'created'"),
      iso8601_utc(kCtime * 1000) + " key 0x00000010, owner 1000:1000, creator 1000:1000, mode 600");
}

TEST_F(ObjectStoreTest, SwitchingTheLeakRulesOffClearsSuspectsOnceAndLogsNoMore) {
  Store store(options());
  TickRecord first = tick(kT0, {queue(1, 0x10, 5)});
  first.leak_suspects = std::vector<LeakSuspect>{{IpcKind::kQueue, 1, 0x10, "stalled"}};
  store.write_tick(first);
  for (int t = 1; t <= 3; ++t) store.write_tick(tick(kT0 + t * 1000, {queue(1, 0x10, 5)}));
  EXPECT_EQ(text("SELECT group_concat(event || ': ' || details, '; ') FROM (SELECT * FROM "
                 "object_events WHERE event LIKE 'leak%' ORDER BY ts)"),
            "leak_suspected: stalled; leak_cleared: leak rules switched off");
  HistoryReader reader(path_);
  EXPECT_TRUE(reader.objects_at(kT0).at(0).leak_reason.has_value());
  EXPECT_FALSE(reader.objects_at(kT0 + 3000).at(0).leak_reason.has_value());
}

// Retention's sweep of superseded states reads a window of incarnations and the rows it deletes:
// the work of one step (counted in SQLite virtual machine instructions) stays the same when the
// file holds ten times the states.
std::int64_t instructions_of_one_retention_step(const fs::path& path, int objects,
                                                int states_each) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  migrate(db, path.string());
  db.exec("BEGIN");
  SQLite::Statement object(db,
                           "INSERT INTO ipc_objects (id, kind, ipc_id, key, cuid, cgid, "
                           "created_ts, first_seen_ts) VALUES (?, 'msg', ?, ?, 0, 0, 0, 0)");
  SQLite::Statement state(db,
                          "INSERT INTO ipc_object_states (object_id, ts, uid, gid, mode, qnum) "
                          "VALUES (?, ?, 0, 0, 384, ?)");
  for (int id = 1; id <= objects; ++id) {
    object.bind(1, id);
    object.bind(2, id);
    object.bind(3, id);
    object.exec();
    object.reset();
    // Two states older than the cutoff, the first of them superseded; the rest younger.
    for (int i = 0; i < states_each; ++i) {
      state.bind(1, id);
      state.bind(2, i < 2 ? kT0 - 7'200'000 + 1000 * i : kT0 - 1000 * i);
      state.bind(3, i);
      state.exec();
      state.reset();
    }
  }
  db.exec("COMMIT");
  RetentionOptions options;
  options.max_age = std::chrono::hours(1);
  options.rows_per_step = 100;
  Retention retention(db, options);
  std::int64_t instructions = 0;
  sqlite3_progress_handler(
      db.getHandle(), 1,
      [](void* counter) {
        ++*static_cast<std::int64_t*>(counter);
        return 0;
      },
      &instructions);
  retention.step(kT0 + 1000, 0, false);
  sqlite3_progress_handler(db.getHandle(), 0, nullptr, nullptr);
  return instructions;
}

TEST_F(ObjectStoreTest, ARetentionStepTouchesABoundedNumberOfStates) {
  fs::create_directories(dir_);
  std::int64_t small = instructions_of_one_retention_step(dir_ / "small.db", 2000, 10);
  std::int64_t large = instructions_of_one_retention_step(dir_ / "large.db", 20000, 10);
  std::int64_t deep = instructions_of_one_retention_step(dir_ / "deep.db", 2000, 100);
  EXPECT_LT(large, small * 3 / 2) << "small " << small << ", large " << large;
  EXPECT_LT(deep, small * 3 / 2) << "small " << small << ", deep " << deep;
}

TEST_F(ObjectStoreTest, RetentionStepsSweepEverySupersededStateInTurn) {
  StoreOptions opts = options();
  opts.retention.max_age = std::chrono::hours(1);
  opts.retention.every = std::chrono::milliseconds(0);
  opts.retention.rows_per_step = 10;  // 25 objects: three windows
  Store store(opts);
  std::vector<IpcObject> queues;
  for (int i = 0; i < 25; ++i) queues.push_back(queue(i, 0x1000 + i));
  for (int qnum = 1; qnum <= 3; ++qnum) {  // three states each, all soon older than the cutoff
    for (IpcObject& q : queues) q.qnum = static_cast<std::uint64_t>(qnum);
    store.write_tick(tick(kT0 + qnum * 1000, queues));
  }
  std::int64_t later = kT0 + 2 * 3'600'000;
  // Each window takes a step or two (the budget is 10 rows a step); then the sweep starts over.
  for (int t = 0; t < 12; ++t) store.write_tick(tick(later + t * 1000, queues));
  EXPECT_EQ(number("SELECT count(*) FROM ipc_object_states"), 25);
  EXPECT_EQ(number("SELECT count(*) FROM ipc_object_states WHERE qnum = 3"), 25);
  HistoryReader reader(path_);
  EXPECT_EQ(reader.objects_at(later).size(), 25u);
}

}  // namespace
}  // namespace ipctrail
