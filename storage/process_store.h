// Who made the IPC calls, in the history file (docs/design.md §6): internal to storage/, called by
// SqliteStore::write_tick inside the tick's transaction, after ObjectStore::write. Per-tick
// non-zero counts by process, call and errno class; one processes row per process so that the
// counts do not repeat its name; and the creator and remover of each object incarnation, matched
// from BPF's lifecycle events by the rules below (README "Who created and removed an object").
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/tick_record.h"
#include "storage/object_store.h"

namespace ipctrail {

// processes.last_seen_ts is written when it moves by at least this much: a busy process does not
// rewrite its row every tick. Retention allows for the lag.
inline constexpr std::int64_t kProcessLastSeenResolutionMs = 60'000;

// At most this many processes are remembered between ticks (the rest are found again by index),
// and at most this many lifecycle events wait for their object to appear or go.
inline constexpr std::size_t kMaxCachedProcesses = 4096;
inline constexpr std::size_t kMaxPendingLifecycleEvents = 4096;

class ProcessStore {
 public:
  explicit ProcessStore(SQLite::Database& db);

  // Forgets what memory holds (at start, and after a failed tick left it disagreeing with the
  // file): cached process rows, events waiting for their object, the open per-process span.
  void reload();

  // Writes the tick's counts, losses and span, and matches its lifecycle events to the
  // incarnations `objects` knows after its write of the same tick. `starts_span`: the tick starts
  // a new sampling span. Returns the rows it added (for retention's budget).
  std::int64_t write(const std::optional<ProcessTickRecord>& record, std::int64_t ts_ms,
                     bool starts_span, const ObjectStore& objects);

  void reset_statements() noexcept;

 private:
  // A process row's identity. The command name (at most 15 characters from BPF) fits the string's
  // own storage: a cached process costs no allocation beyond its map node.
  struct ProcessKey {
    std::int32_t tgid = 0;
    std::uint64_t cgroup_id = 0;
    std::string comm;
    friend bool operator==(const ProcessKey&, const ProcessKey&) = default;
  };
  struct ProcessKeyHash {
    std::size_t operator()(const ProcessKey& key) const noexcept;
  };
  struct CachedProcess {
    std::int64_t id = 0;
    std::int64_t last_seen_written = 0;
    bool has_unit = false;
    std::uint64_t seen_in = 0;
  };
  struct PendingEvent {
    LifecycleEvent event;
    std::int64_t process_id = 0;
    std::uint64_t arrived_in = 0;  // ObjectStore's tick number when it was read
    std::uint64_t sequence = 0;    // the order BPF sent it in, across ticks
  };
  // What a later event of the same id tells about a waiting creation: a removal, or a creation
  // that surely made a new object, ends whatever the waiting one made.
  struct EndingEvent {
    IpcKind kind = IpcKind::kSemaphore;
    int id = 0;
    std::int64_t ts_ms = 0;
    std::uint64_t arrived_in = 0;
    std::uint64_t sequence = 0;
  };

  std::int64_t process_id(const ProcessIdentity& process, const std::string* unit,
                          std::int64_t ts_ms);
  void write_span(bool present, std::int64_t ts_ms, bool starts_span);
  void match_removals(const ObjectStore& objects);
  void match_creations(const ObjectStore& objects, std::int64_t ts_ms);
  bool ended_before_inventory(const PendingEvent& creation, const ObjectStore& objects,
                              std::int64_t ts_ms) const;
  void attribute(const char* column, std::int64_t incarnation, std::int64_t process_id);
  void insert_unseen(const PendingEvent& pending);

  SQLite::Database& db_;
  SQLite::Statement find_process_;
  SQLite::Statement insert_process_;
  SQLite::Statement touch_process_;
  SQLite::Statement set_unit_;
  SQLite::Statement set_late_unit_;
  SQLite::Statement insert_count_;
  SQLite::Statement insert_loss_;
  SQLite::Statement insert_span_;
  SQLite::Statement extend_span_;
  SQLite::Statement set_creator_;
  SQLite::Statement set_remover_;
  SQLite::Statement insert_unseen_;

  std::unordered_map<ProcessKey, CachedProcess, ProcessKeyHash> processes_;
  std::vector<PendingEvent> pending_created_;
  std::vector<PendingEvent> pending_removed_;
  // The ending events of this tick and the previous one: a creation waits at most that long.
  std::vector<EndingEvent> recent_endings_;
  std::uint64_t sequence_ = 0;
  std::optional<std::int64_t> span_id_;
  std::uint64_t tick_ = 0;
  std::int64_t rows_ = 0;
};

}  // namespace ipctrail
