#include "storage/process_retention.h"

#include <fmt/format.h>

#include "storage/process_store.h"

namespace ipctrail {

ProcessRetention::ProcessRetention(SQLite::Database& db)
    : delete_counts_(db,
                     "DELETE FROM process_call_counts WHERE (ts, process_id, call, errno) IN "
                     "(SELECT ts, process_id, call, errno FROM process_call_counts WHERE ts < ?1 "
                     "ORDER BY ts LIMIT ?2)"),
      delete_losses_(db,
                     "DELETE FROM process_losses WHERE ts IN (SELECT ts FROM process_losses "
                     "WHERE ts < ?1 ORDER BY ts LIMIT ?2)"),
      delete_unseen_(db,
                     "DELETE FROM unseen_object_events WHERE (ts, kind, ipc_id, event) IN (SELECT "
                     "ts, kind, ipc_id, event FROM unseen_object_events WHERE ts < ?1 ORDER BY ts "
                     "LIMIT ?2)"),
      delete_spans_(db, "DELETE FROM process_spans WHERE last_ts < ?1"),
      clip_spans_(db, "UPDATE process_spans SET start_ts = ?1 WHERE start_ts < ?1"),
      // A process's counts and unseen events all lie at or before its last_seen_ts (written to
      // within kProcessLastSeenResolutionMs): once the oldest row left is younger than that, none
      // of them refers to it.
      delete_processes_(
          db, fmt::format(
                  "DELETE FROM processes WHERE id IN (SELECT p.id FROM processes p WHERE "
                  "p.last_seen_ts + {0} < ?1 "
                  "AND p.last_seen_ts + {0} < coalesce((SELECT min(ts) FROM process_call_counts), "
                  "9223372036854775807) "
                  "AND p.last_seen_ts + {0} < coalesce((SELECT min(ts) FROM unseen_object_events), "
                  "9223372036854775807) "
                  "AND NOT EXISTS (SELECT 1 FROM ipc_objects o WHERE o.creator_process_id = p.id) "
                  "AND NOT EXISTS (SELECT 1 FROM ipc_objects o WHERE o.remover_process_id = p.id) "
                  "LIMIT ?2)",
                  kProcessLastSeenResolutionMs)) {}

void ProcessRetention::delete_before(std::int64_t cutoff_ms, std::int64_t budget) {
  for (SQLite::Statement* statement :
       {&delete_counts_, &delete_losses_, &delete_unseen_, &delete_processes_}) {
    statement->reset();
    statement->bind(1, cutoff_ms);
    statement->bind(2, budget);
    statement->exec();
  }
  for (SQLite::Statement* statement : {&delete_spans_, &clip_spans_}) {
    statement->reset();
    statement->bind(1, cutoff_ms);
    statement->exec();
  }
}

void ProcessRetention::rolled_back() noexcept {
  for (SQLite::Statement* statement : {&delete_counts_, &delete_losses_, &delete_unseen_,
                                       &delete_spans_, &clip_spans_, &delete_processes_}) {
    statement->tryReset();
  }
}

}  // namespace ipctrail
