#include "storage/object_store.h"

#include <fmt/format.h>

namespace ipctrail {

namespace {

std::int64_t coarse(std::int64_t seconds) {
  return seconds - seconds % kObjectTimeResolutionSeconds;
}

std::string mode_text(std::uint32_t mode) {
  return fmt::format("{:03o}", mode & 0777);
}

// The moving fields as a state row stores them.
IpcObject stored_state(const IpcObject& object) {
  IpcObject state = object;
  state.otime = coarse(object.otime);
  state.stime = coarse(object.stime);
  state.rtime = coarse(object.rtime);
  state.atime = coarse(object.atime);
  state.dtime = coarse(object.dtime);
  return state;
}

bool same_state(const IpcObject& a, const IpcObject& b) {
  return a.uid == b.uid && a.gid == b.gid && a.mode == b.mode && a.nattch == b.nattch &&
         a.lpid == b.lpid && a.lspid == b.lspid && a.lrpid == b.lrpid && a.qnum == b.qnum &&
         a.cbytes == b.cbytes && a.otime == b.otime && a.stime == b.stime && a.rtime == b.rtime &&
         a.atime == b.atime && a.dtime == b.dtime && a.qbytes == b.qbytes;
}

// Whether `now` is still the object `before` was, at the same id. The kernel hands an id out again
// only after its object is gone, so anything a live object cannot change marks a new one: its key,
// creator, size (nsems, segment size), creator pid, or a time that went backwards (a new object
// starts with its operation times at 0). ctime alone does not: IPC_SET (and SETVAL) move it.
bool same_incarnation(const IpcObject& before, const IpcObject& now) {
  return before.key == now.key && before.cuid == now.cuid && before.cgid == now.cgid &&
         before.size == now.size && before.cpid == now.cpid && before.ctime <= now.ctime &&
         coarse(before.otime) <= coarse(now.otime) && coarse(before.stime) <= coarse(now.stime) &&
         coarse(before.rtime) <= coarse(now.rtime) && coarse(before.atime) <= coarse(now.atime) &&
         coarse(before.dtime) <= coarse(now.dtime);
}

void bind_if(SQLite::Statement& statement, int index, bool has, std::int64_t value) {
  if (has) {
    statement.bind(index, value);
  } else {
    statement.bind(index);
  }
}

}  // namespace

ObjectStore::ObjectStore(SQLite::Database& db, std::optional<std::int64_t> namespace_id)
    : db_(db),
      namespace_id_(namespace_id),
      insert_object_(db,
                     "INSERT INTO ipc_objects (kind, ipc_id, key, cuid, cgid, size, cpid, "
                     "created_ts, first_seen_ts, namespace_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                     "?)"),
      end_object_(db, "UPDATE ipc_objects SET last_seen_ts = ?, removed_ts = ? WHERE id = ?"),
      insert_state_(db,
                    "INSERT OR REPLACE INTO ipc_object_states (object_id, ts, uid, gid, mode, "
                    "nattch, lpid, lspid, lrpid, qnum, cbytes, otime, stime, rtime, atime, dtime, "
                    "qbytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
      insert_event_(db,
                    "INSERT OR REPLACE INTO ipc_object_events (ts, object_id, event, details) "
                    "VALUES (?, ?, ?, ?)") {}

std::uint64_t ObjectStore::slot(IpcKind kind, int id) {
  return (static_cast<std::uint64_t>(kind) << 32) | static_cast<std::uint32_t>(id);
}

void ObjectStore::reload() {
  known_.clear();
  ended_in_tick_.clear();
  live_ = {};
  tick_ = 0;
  previous_ts_ = db_.execAndGet("SELECT coalesce(max(last_ts), 0) FROM sampling_spans").getInt64();
  SQLite::Statement live(
      db_,
      "SELECT o.id, o.kind, o.ipc_id, o.key, o.cuid, o.cgid, o.size, o.cpid, o.created_ts, s.uid, "
      "s.gid, s.mode, s.nattch, s.lpid, s.lspid, s.lrpid, s.qnum, s.cbytes, s.otime, s.stime, "
      "s.rtime, s.atime, s.dtime, coalesce((SELECT e.event = 'leak_suspected' FROM "
      "ipc_object_events "
      "e WHERE e.object_id = o.id AND e.event IN ('leak_suspected', 'leak_cleared') ORDER BY e.ts "
      "DESC LIMIT 1), 0), s.qbytes FROM ipc_objects o JOIN ipc_object_states s ON s.object_id = "
      "o.id "
      "AND s.ts = (SELECT max(ts) FROM ipc_object_states WHERE object_id = o.id) "
      "WHERE o.removed_ts IS NULL AND o.namespace_id IS ?");
  if (namespace_id_) live.bind(1, *namespace_id_);
  while (live.executeStep()) {
    std::optional<IpcKind> kind = kind_from_name(live.getColumn(1).getString());
    if (!kind) continue;
    IpcObject object;
    object.kind = *kind;
    object.id = live.getColumn(2).getInt();
    object.key = live.getColumn(3).getInt();
    object.cuid = static_cast<std::uint32_t>(live.getColumn(4).getInt64());
    object.cgid = static_cast<std::uint32_t>(live.getColumn(5).getInt64());
    object.size = static_cast<std::uint64_t>(live.getColumn(6).getInt64());
    object.cpid = live.getColumn(7).getInt64();
    object.ctime = live.getColumn(8).getInt64() / 1000;
    object.uid = static_cast<std::uint32_t>(live.getColumn(9).getInt64());
    object.gid = static_cast<std::uint32_t>(live.getColumn(10).getInt64());
    object.mode = static_cast<std::uint32_t>(live.getColumn(11).getInt64());
    object.nattch = static_cast<std::uint64_t>(live.getColumn(12).getInt64());
    object.lpid = live.getColumn(13).getInt64();
    object.lspid = live.getColumn(14).getInt64();
    object.lrpid = live.getColumn(15).getInt64();
    object.qnum = static_cast<std::uint64_t>(live.getColumn(16).getInt64());
    object.cbytes = static_cast<std::uint64_t>(live.getColumn(17).getInt64());
    object.otime = live.getColumn(18).getInt64();
    object.stime = live.getColumn(19).getInt64();
    object.rtime = live.getColumn(20).getInt64();
    object.atime = live.getColumn(21).getInt64();
    object.dtime = live.getColumn(22).getInt64();
    if (!live.getColumn(24).isNull()) {
      object.qbytes = static_cast<std::uint64_t>(live.getColumn(24).getInt64());
    }
    ++live_[static_cast<std::size_t>(object.kind)];
    Known& known = known_[slot(object.kind, object.id)];
    known.incarnation = live.getColumn(0).getInt64();
    known.last = object;
    known.last_stored = object;
    known.suspected = live.getColumn(23).getInt() != 0;
  }
}

void ObjectStore::write(const IpcInventory& inventory, std::int64_t ts_ms) {
  ++tick_;
  ended_in_tick_.clear();
  for (IpcKind kind : kIpcKinds) {
    if (const auto& objects = inventory.of(kind)) write_kind(kind, *objects, ts_ms);
  }
  previous_ts_ = ts_ms;
}

void ObjectStore::write_kind(IpcKind kind, const std::vector<IpcObject>& objects,
                             std::int64_t ts_ms) {
  std::size_t seen = 0;
  for (const IpcObject& object : objects) {
    auto [entry, added] = known_.try_emplace(slot(kind, object.id));
    Known& known = entry->second;
    if (known.seen_in == tick_ && !added) continue;  // a duplicate row: the first one counts
    known.seen_in = tick_;
    ++seen;
    if (added) {
      ++live_[static_cast<std::size_t>(kind)];
      start_incarnation(known, object, ts_ms);
    } else if (!(known.last == object)) {
      if (same_incarnation(known.last, object)) {
        update(known, object, ts_ms);
      } else {
        end_incarnation(known, ts_ms);
        start_incarnation(known, object, ts_ms);
      }
    }
  }
  std::size_t& live = live_[static_cast<std::size_t>(kind)];
  if (live == seen) return;
  for (auto it = known_.begin(); it != known_.end();) {
    if (it->second.last.kind == kind && it->second.seen_in != tick_) {
      end_incarnation(it->second, ts_ms);
      it = known_.erase(it);
      --live;
    } else {
      ++it;
    }
  }
}

void ObjectStore::write_leak_suspects(const std::vector<LeakSuspect>& suspects,
                                      std::int64_t ts_ms) {
  for (const LeakSuspect& suspect : suspects) {
    auto found = known_.find(slot(suspect.kind, suspect.id));
    if (found == known_.end()) continue;
    Known& known = found->second;
    known.suspected_in = tick_;
    if (known.suspected) continue;
    known.suspected = true;
    insert_event(ts_ms, known.incarnation, "leak_suspected", suspect.reason);
  }
  clear_unsuspected(ts_ms, "no longer a leak suspect");
}

void ObjectStore::clear_leak_suspects(std::int64_t ts_ms) {
  clear_unsuspected(ts_ms, "leak rules switched off");
}

// Clears every suspect that was not suspected in this tick.
void ObjectStore::clear_unsuspected(std::int64_t ts_ms, const char* why) {
  for (auto& [id, known] : known_) {
    if (!known.suspected || known.suspected_in == tick_) continue;
    known.suspected = false;
    insert_event(ts_ms, known.incarnation, "leak_cleared", why);
  }
}

void ObjectStore::start_incarnation(Known& known, const IpcObject& object, std::int64_t ts_ms) {
  bool shm = object.kind == IpcKind::kSharedMemory;
  insert_object_.reset();
  insert_object_.bind(1, std::string(kind_name(object.kind)));
  insert_object_.bind(2, object.id);
  insert_object_.bind(3, object.key);
  insert_object_.bind(4, static_cast<std::int64_t>(object.cuid));
  insert_object_.bind(5, static_cast<std::int64_t>(object.cgid));
  bind_if(insert_object_, 6, object.kind != IpcKind::kQueue,
          static_cast<std::int64_t>(object.size));
  bind_if(insert_object_, 7, shm, object.cpid);
  insert_object_.bind(8, object.ctime * 1000);
  insert_object_.bind(9, ts_ms);
  if (namespace_id_) {
    insert_object_.bind(10, *namespace_id_);
  } else {
    insert_object_.bind(10);
  }
  insert_object_.exec();
  known.incarnation = db_.getLastInsertRowid();
  known.first_seen_in = tick_;
  known.suspected = false;
  known.last = object;
  known.last_stored = stored_state(object);
  // Its `created` event is the row itself (the object_events view).
  insert_state(known.incarnation, known.last_stored, ts_ms);
}

void ObjectStore::end_incarnation(const Known& known, std::int64_t ts_ms) {
  ended_in_tick_.push_back(
      {known.last.kind, known.last.id, known.incarnation, known.first_seen_in, known.last.ctime});
  end_object_.reset();
  end_object_.bind(1, previous_ts_);
  end_object_.bind(2, ts_ms);
  end_object_.bind(3, known.incarnation);
  end_object_.exec();  // and so its `removed` event (the object_events view)
}

void ObjectStore::update(Known& known, const IpcObject& object, std::int64_t ts_ms) {
  const IpcObject& before = known.last;
  if (before.uid != object.uid || before.gid != object.gid) {
    insert_event(ts_ms, known.incarnation, "owner_changed",
                 fmt::format("{}:{} -> {}:{}", before.uid, before.gid, object.uid, object.gid));
  }
  if ((before.mode & 0777) != (object.mode & 0777)) {
    insert_event(ts_ms, known.incarnation, "mode_changed",
                 fmt::format("{} -> {}", mode_text(before.mode), mode_text(object.mode)));
  }
  known.last = object;
  IpcObject state = stored_state(object);
  if (!same_state(state, known.last_stored)) {
    insert_state(known.incarnation, state, ts_ms);
    known.last_stored = state;
  }
}

void ObjectStore::insert_state(std::int64_t incarnation, const IpcObject& stored,
                               std::int64_t ts_ms) {
  bool sem = stored.kind == IpcKind::kSemaphore;
  bool msg = stored.kind == IpcKind::kQueue;
  bool shm = stored.kind == IpcKind::kSharedMemory;
  SQLite::Statement& insert = insert_state_;
  insert.reset();
  insert.bind(1, incarnation);
  insert.bind(2, ts_ms);
  insert.bind(3, static_cast<std::int64_t>(stored.uid));
  insert.bind(4, static_cast<std::int64_t>(stored.gid));
  insert.bind(5, static_cast<std::int64_t>(stored.mode));
  bind_if(insert, 6, shm, static_cast<std::int64_t>(stored.nattch));
  bind_if(insert, 7, shm, stored.lpid);
  bind_if(insert, 8, msg, stored.lspid);
  bind_if(insert, 9, msg, stored.lrpid);
  bind_if(insert, 10, msg, static_cast<std::int64_t>(stored.qnum));
  bind_if(insert, 11, msg, static_cast<std::int64_t>(stored.cbytes));
  bind_if(insert, 12, sem, stored.otime);
  bind_if(insert, 13, msg, stored.stime);
  bind_if(insert, 14, msg, stored.rtime);
  bind_if(insert, 15, shm, stored.atime);
  bind_if(insert, 16, shm, stored.dtime);
  bind_if(insert, 17, msg && stored.qbytes, static_cast<std::int64_t>(stored.qbytes.value_or(0)));
  insert.exec();
}

void ObjectStore::insert_event(std::int64_t ts_ms, std::int64_t incarnation, const char* event,
                               const std::string& details) {
  insert_event_.reset();
  insert_event_.bind(1, ts_ms);
  insert_event_.bind(2, incarnation);
  insert_event_.bind(3, event);
  insert_event_.bind(4, details);
  insert_event_.exec();
}

std::optional<ObjectStore::Incarnation> ObjectStore::live(IpcKind kind, int id) const {
  auto found = known_.find(slot(kind, id));
  if (found == known_.end()) return std::nullopt;
  const Known& known = found->second;
  return Incarnation{kind, id, known.incarnation, known.first_seen_in, known.last.ctime};
}

void ObjectStore::reset_statements() noexcept {
  for (SQLite::Statement* statement :
       {&insert_object_, &end_object_, &insert_state_, &insert_event_}) {
    statement->tryReset();
  }
}

}  // namespace ipctrail
