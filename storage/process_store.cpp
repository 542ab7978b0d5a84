#include "storage/process_store.h"

#include <algorithm>

namespace ipctrail {

namespace {

// The kernel's ctime (whole seconds) of an object made by a call at `event_ms`: the same second,
// give or take one for the conversion of BPF's clock to wall-clock time.
bool ctime_fits(std::int64_t ctime, std::int64_t event_ms) {
  std::int64_t second = event_ms / 1000;
  return ctime >= second - 1 && ctime <= second + 1;
}

}  // namespace

std::size_t ProcessStore::ProcessKeyHash::operator()(const ProcessKey& key) const noexcept {
  std::size_t hash = std::hash<std::string>{}(key.comm);
  hash = hash * 31 + std::hash<std::uint64_t>{}(key.cgroup_id);
  return hash * 31 + std::hash<std::int32_t>{}(key.tgid);
}

ProcessStore::ProcessStore(SQLite::Database& db)
    : db_(db),
      find_process_(db,
                    "SELECT id, last_seen_ts, unit IS NOT NULL FROM processes WHERE tgid = ? AND "
                    "cgroup_id = ? AND comm = ? ORDER BY id DESC LIMIT 1"),
      insert_process_(db,
                      "INSERT INTO processes (tgid, comm, cgroup_id, unit, first_seen_ts, "
                      "last_seen_ts) VALUES (?, ?, ?, ?, ?, ?)"),
      touch_process_(db, "UPDATE processes SET last_seen_ts = max(last_seen_ts, ?) WHERE id = ?"),
      set_unit_(db, "UPDATE processes SET unit = ? WHERE id = ?"),
      set_late_unit_(db, "UPDATE processes SET unit = ? WHERE cgroup_id = ? AND unit IS NULL"),
      insert_count_(db,
                    "INSERT INTO process_call_counts (ts, process_id, call, errno, count) VALUES "
                    "(?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET count = count + excluded.count"),
      insert_loss_(db,
                   "INSERT OR REPLACE INTO process_losses (ts, calls_not_attributed, events_lost) "
                   "VALUES (?, ?, ?)"),
      insert_span_(db, "INSERT INTO process_spans (start_ts, last_ts) VALUES (?, ?)"),
      extend_span_(db, "UPDATE process_spans SET last_ts = ? WHERE id = ?"),
      set_creator_(db,
                   "UPDATE ipc_objects SET creator_process_id = ? WHERE id = ? AND "
                   "creator_process_id IS NULL"),
      set_remover_(db,
                   "UPDATE ipc_objects SET remover_process_id = ? WHERE id = ? AND "
                   "remover_process_id IS NULL"),
      insert_unseen_(db,
                     "INSERT OR REPLACE INTO unseen_object_events (ts, kind, ipc_id, event, key, "
                     "process_id) VALUES (?, ?, ?, ?, ?, ?)") {}

void ProcessStore::reload() {
  processes_.clear();
  pending_created_.clear();
  pending_removed_.clear();
  recent_endings_.clear();
  span_id_.reset();
}

std::int64_t ProcessStore::write(const std::optional<ProcessTickRecord>& record, std::int64_t ts_ms,
                                 bool starts_span, const ObjectStore& objects) {
  ++tick_;
  rows_ = 0;
  write_span(record.has_value(), ts_ms, starts_span);
  if (record) {
    auto unit_of = [&](const ProcessIdentity& process) -> const std::string* {
      auto found = record->cgroup_owners.find(process.cgroup_id);
      return found == record->cgroup_owners.end() ? nullptr : &found->second;
    };
    for (const ProcessCallCount& count : record->calls) {
      if (count.count == 0) continue;
      insert_count_.reset();
      insert_count_.bind(1, ts_ms);
      insert_count_.bind(2, process_id(count.process, unit_of(count.process), ts_ms));
      insert_count_.bind(3, static_cast<int>(index_of(count.call)));
      insert_count_.bind(4, count.error ? static_cast<int>(index_of(*count.error)) + 1 : 0);
      insert_count_.bind(5, static_cast<std::int64_t>(count.count));
      insert_count_.exec();
      ++rows_;
    }
    if (record->calls_not_attributed > 0 || record->events_lost > 0) {
      insert_loss_.reset();
      insert_loss_.bind(1, ts_ms);
      insert_loss_.bind(2, static_cast<std::int64_t>(record->calls_not_attributed));
      insert_loss_.bind(3, static_cast<std::int64_t>(record->events_lost));
      insert_loss_.exec();
      ++rows_;
    }
    for (const auto& [cgroup_id, unit] : record->late_cgroup_owners) {
      set_late_unit_.reset();
      set_late_unit_.bind(1, unit);
      set_late_unit_.bind(2, static_cast<std::int64_t>(cgroup_id));
      set_late_unit_.exec();
    }
    std::erase_if(recent_endings_, [&](const EndingEvent& ending) {
      return ending.arrived_in + 1 < objects.tick();
    });
    for (const LifecycleEvent& event : record->events) {
      PendingEvent pending{event, process_id(event.process, unit_of(event.process), ts_ms),
                           objects.tick(), ++sequence_};
      bool creation = event.action == LifecycleAction::kCreated;
      if (!creation || surely_created(event)) {
        recent_endings_.push_back(
            {event.kind, event.id, event.ts_ms, pending.arrived_in, pending.sequence});
      }
      (creation ? pending_created_ : pending_removed_).push_back(std::move(pending));
    }
    while (recent_endings_.size() > 2 * kMaxPendingLifecycleEvents) {
      recent_endings_.erase(recent_endings_.begin());
    }
  }
  match_removals(objects);
  match_creations(objects, ts_ms);
  if (processes_.size() > kMaxCachedProcesses) {
    std::erase_if(processes_, [this](const auto& entry) { return entry.second.seen_in != tick_; });
  }
  return rows_;
}

std::int64_t ProcessStore::process_id(const ProcessIdentity& process, const std::string* unit,
                                      std::int64_t ts_ms) {
  auto [entry, added] =
      processes_.try_emplace(ProcessKey{process.tgid, process.cgroup_id, process.comm});
  CachedProcess& cached = entry->second;
  if (added) {
    find_process_.reset();
    find_process_.bind(1, process.tgid);
    find_process_.bind(2, static_cast<std::int64_t>(process.cgroup_id));
    find_process_.bind(3, process.comm);
    if (find_process_.executeStep()) {
      cached.id = find_process_.getColumn(0).getInt64();
      cached.last_seen_written = find_process_.getColumn(1).getInt64();
      cached.has_unit = find_process_.getColumn(2).getInt() != 0;
      find_process_.reset();
    } else {
      insert_process_.reset();
      insert_process_.bind(1, process.tgid);
      insert_process_.bind(2, process.comm);
      insert_process_.bind(3, static_cast<std::int64_t>(process.cgroup_id));
      if (unit) {
        insert_process_.bind(4, *unit);
      } else {
        insert_process_.bind(4);
      }
      insert_process_.bind(5, ts_ms);
      insert_process_.bind(6, ts_ms);
      insert_process_.exec();
      ++rows_;
      cached.id = db_.getLastInsertRowid();
      cached.last_seen_written = ts_ms;
      cached.has_unit = unit != nullptr;
    }
  }
  cached.seen_in = tick_;
  if (unit && !cached.has_unit) {
    // The cgroup's owner became known (the name was resolved after the process was first seen).
    set_unit_.reset();
    set_unit_.bind(1, *unit);
    set_unit_.bind(2, cached.id);
    set_unit_.exec();
    cached.has_unit = true;
  }
  if (ts_ms - cached.last_seen_written >= kProcessLastSeenResolutionMs) {
    touch_process_.reset();
    touch_process_.bind(1, ts_ms);
    touch_process_.bind(2, cached.id);
    touch_process_.exec();
    cached.last_seen_written = ts_ms;
  }
  return cached.id;
}

void ProcessStore::write_span(bool present, std::int64_t ts_ms, bool starts_span) {
  if (!present) {
    span_id_.reset();
    return;
  }
  if (span_id_ && !starts_span) {
    extend_span_.reset();
    extend_span_.bind(1, ts_ms);
    extend_span_.bind(2, *span_id_);
    extend_span_.exec();
    return;
  }
  insert_span_.reset();
  insert_span_.bind(1, ts_ms);
  insert_span_.bind(2, ts_ms);
  insert_span_.exec();
  span_id_ = db_.getLastInsertRowid();
}

// An IPC_RMID names the remover of the incarnation at its id that ends after it: in the tick that
// read it, or later for a segment still attached (it lives on until its last detach). An array or
// a queue goes at once, so one still listed by the tick after the one that read the removal is
// another incarnation that took the id again (ids are reused): the removal is not kept waiting to
// be pinned on it. One that no incarnation seen before it can have been (the object was made after
// the previous tick, or the id was taken again before the next) is kept as an unseen removal.
void ProcessStore::match_removals(const ObjectStore& objects) {
  for (const ObjectStore::Incarnation& ended : objects.ended_in_tick()) {
    auto found = std::find_if(
        pending_removed_.begin(), pending_removed_.end(), [&](const PendingEvent& pending) {
          return pending.event.kind == ended.kind && pending.event.id == ended.id;
        });
    if (found == pending_removed_.end()) continue;
    attribute("remover", ended.incarnation, found->process_id);
    pending_removed_.erase(found);
  }
  std::erase_if(pending_removed_, [&](const PendingEvent& pending) {
    std::optional<ObjectStore::Incarnation> live =
        objects.live(pending.event.kind, pending.event.id);
    bool goes_at_once = pending.event.kind != IpcKind::kSharedMemory;
    if (live && live->first_seen_in <= pending.arrived_in &&
        (!goes_at_once || objects.tick() == pending.arrived_in)) {
      return false;  // not gone yet
    }
    insert_unseen(pending);
    return true;
  });
  while (pending_removed_.size() > kMaxPendingLifecycleEvents) {
    pending_removed_.erase(pending_removed_.begin());
  }
}

// A get with IPC_CREAT names the creator of the incarnation at its id when that incarnation was
// first seen by the tick that read the event or by a later one (a tick before it saw the object
// already: the call found it), and, unless the call surely made a new object (IPC_PRIVATE,
// IPC_EXCL), when the kernel's ctime is the event's second (give or take one). The earliest such
// event wins. One whose object no tick saw (removed before the next tick) is kept as an unseen
// creation; one whose object a tick saw before is dropped: the call found an existing object. An
// event whose object was surely gone before the inventory that first saw the incarnation (a later
// removal or sure creation at the same id came before it) did not make that incarnation, which
// took the id again: it is an unseen creation too.
void ProcessStore::match_creations(const ObjectStore& objects, std::int64_t ts_ms) {
  std::stable_sort(
      pending_created_.begin(), pending_created_.end(),
      [](const PendingEvent& a, const PendingEvent& b) { return a.event.ts_ms < b.event.ts_ms; });
  std::erase_if(pending_created_, [&](const PendingEvent& pending) {
    const LifecycleEvent& event = pending.event;
    std::optional<ObjectStore::Incarnation> live = objects.live(event.kind, event.id);
    if (live && live->first_seen_in >= pending.arrived_in &&
        ended_before_inventory(pending, objects, ts_ms)) {
      insert_unseen(pending);
      return true;
    }
    if (live && live->first_seen_in >= pending.arrived_in) {
      if (surely_created(event) || ctime_fits(live->ctime, event.ts_ms)) {
        attribute("creator", live->incarnation, pending.process_id);
      }
      return true;
    }
    if (live) return true;                                   // it found an existing object
    if (objects.tick() == pending.arrived_in) return false;  // it may appear in the next tick
    insert_unseen(pending);
    return true;
  });
  while (pending_created_.size() > kMaxPendingLifecycleEvents) {
    pending_created_.erase(pending_created_.begin());
  }
}

// Whether an ending event of the creation's id came after it and before this tick's inventory:
// read by an earlier tick, or stamped before this tick's time (taken before its inventory is read).
bool ProcessStore::ended_before_inventory(const PendingEvent& creation, const ObjectStore& objects,
                                          std::int64_t ts_ms) const {
  const LifecycleEvent& event = creation.event;
  return std::any_of(
      recent_endings_.begin(), recent_endings_.end(), [&](const EndingEvent& ending) {
        bool later = ending.ts_ms > event.ts_ms ||
                     (ending.ts_ms == event.ts_ms && ending.sequence > creation.sequence);
        return ending.kind == event.kind && ending.id == event.id && later &&
               (ending.arrived_in < objects.tick() || ending.ts_ms < ts_ms);
      });
}

void ProcessStore::attribute(const char* column, std::int64_t incarnation,
                             std::int64_t process_id) {
  SQLite::Statement& set = std::string_view(column) == "creator" ? set_creator_ : set_remover_;
  set.reset();
  set.bind(1, process_id);
  set.bind(2, incarnation);
  set.exec();  // changes nothing when an earlier event named it already
}

void ProcessStore::insert_unseen(const PendingEvent& pending) {
  const LifecycleEvent& event = pending.event;
  insert_unseen_.reset();
  insert_unseen_.bind(1, event.ts_ms);
  insert_unseen_.bind(2, std::string(kind_name(event.kind)));
  insert_unseen_.bind(3, event.id);
  insert_unseen_.bind(4, event.action == LifecycleAction::kCreated ? "created" : "removed");
  if (event.key) {
    insert_unseen_.bind(5, *event.key);
  } else {
    insert_unseen_.bind(5);
  }
  insert_unseen_.bind(6, pending.process_id);
  insert_unseen_.exec();
  ++rows_;
}

void ProcessStore::reset_statements() noexcept {
  for (SQLite::Statement* statement :
       {&find_process_, &insert_process_, &touch_process_, &set_unit_, &set_late_unit_,
        &insert_count_, &insert_loss_, &insert_span_, &extend_span_, &set_creator_, &set_remover_,
        &insert_unseen_}) {
    statement->tryReset();
  }
}

}  // namespace ipctrail
