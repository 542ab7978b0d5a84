// The IPC object inventory in the history file (schema versions 6 and 7): internal to storage/,
// called by SqliteStore::write_tick inside the tick's transaction. Change-only: the previous tick's
// objects are kept in memory, and a steady object costs one comparison and no write.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <array>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "model/ipc_objects.h"

namespace ipctrail {

// Operation times (otime, stime, rtime, atime, dtime) are stored rounded down to this many
// seconds: a semaphore in use every second then writes a state row once a minute, not once a tick.
inline constexpr std::int64_t kObjectTimeResolutionSeconds = 60;

class ObjectStore {
 public:
  // The objects of one IPC namespace: the agent's own (nullopt), or another's namespaces row.
  explicit ObjectStore(SQLite::Database& db, std::optional<std::int64_t> namespace_id = {});

  // Rereads the live incarnations from the file (at start, and after a failed tick left memory
  // disagreeing with it).
  void reload();

  // Writes what changed since the previous tick. A kind that was not read (nullopt) is left as it
  // was: unknown is not removed.
  void write(const IpcInventory& inventory, std::int64_t ts_ms);
  // Logs `leak_suspected` when an object becomes a suspect and `leak_cleared` when a live one no
  // longer is; call after write() for the same tick.
  void write_leak_suspects(const std::vector<LeakSuspect>& suspects, std::int64_t ts_ms);
  // The leak rules are off: every suspect is cleared (`leak_cleared`), and no event is logged
  // until they are back on.
  void clear_leak_suspects(std::int64_t ts_ms);

  void reset_statements() noexcept;

  // For attributing BPF lifecycle events (storage/process_store.h): the incarnation live at an id
  // after this tick's write, the ones this tick's write ended, and the tick's number (1 for the
  // first write after a reload; live objects found by the reload count as seen in tick 0).
  struct Incarnation {
    IpcKind kind = IpcKind::kSemaphore;
    int id = 0;
    std::int64_t incarnation = 0;
    std::uint64_t first_seen_in = 0;  // tick number
    std::int64_t ctime = 0;           // the kernel's, unix seconds
  };
  std::optional<Incarnation> live(IpcKind kind, int id) const;
  const std::vector<Incarnation>& ended_in_tick() const { return ended_in_tick_; }
  std::uint64_t tick() const { return tick_; }

 private:
  struct Known {
    std::int64_t incarnation = 0;
    IpcObject last;         // as collected (or, after reload, as stored)
    IpcObject last_stored;  // the moving fields as the latest state row holds them
    std::uint64_t seen_in = 0;
    std::uint64_t first_seen_in = 0;
    bool suspected = false;
    std::uint64_t suspected_in = 0;
  };
  static std::uint64_t slot(IpcKind kind, int id);

  void write_kind(IpcKind kind, const std::vector<IpcObject>& objects, std::int64_t ts_ms);
  void start_incarnation(Known& known, const IpcObject& object, std::int64_t ts_ms);
  void end_incarnation(const Known& known, std::int64_t ts_ms);
  void update(Known& known, const IpcObject& object, std::int64_t ts_ms);
  void insert_state(std::int64_t incarnation, const IpcObject& stored, std::int64_t ts_ms);
  void clear_unsuspected(std::int64_t ts_ms, const char* why);
  void insert_event(std::int64_t ts_ms, std::int64_t incarnation, const char* event,
                    const std::string& details);

  SQLite::Database& db_;
  std::optional<std::int64_t> namespace_id_;
  SQLite::Statement insert_object_;
  SQLite::Statement end_object_;
  SQLite::Statement insert_state_;
  SQLite::Statement insert_event_;
  std::unordered_map<std::uint64_t, Known> known_;        // live incarnations, by kind and id
  std::array<std::size_t, std::size(kIpcKinds)> live_{};  // entries of known_, by kind
  std::vector<Incarnation> ended_in_tick_;
  std::uint64_t tick_ = 0;
  std::int64_t previous_ts_ = 0;  // the last tick written, the last time a removed object was seen
};

}  // namespace ipctrail
