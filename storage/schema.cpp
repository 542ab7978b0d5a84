#include "storage/schema.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <array>

namespace ipctrail {

namespace {

// ISO-8601 UTC text of a unix-millisecond column, exact to the millisecond (no floating point).
#define IPCTRAIL_ISO_TIME(column)         \
  "strftime('%Y-%m-%dT%H:%M:%S', " column \
  " / 1000, 'unixepoch') || "             \
  "printf('.%03dZ', " column " % 1000)"

// Version 1: values, series and sampling spans. Points are clustered by time: a tick appends at
// the end of one b-tree (few pages touched, full pages), and retention deletes from its start.
constexpr const char* kVersion1 = R"sql(
CREATE TABLE charts (
  id TEXT PRIMARY KEY,
  units TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE series (
  id INTEGER PRIMARY KEY,
  chart TEXT NOT NULL,
  dimension TEXT NOT NULL,
  ended_ts INTEGER
);
CREATE INDEX series_by_name ON series (chart, dimension);
CREATE INDEX series_ended ON series (ended_ts) WHERE ended_ts IS NOT NULL;
CREATE TABLE points (
  ts INTEGER NOT NULL,
  series_id INTEGER NOT NULL,
  value INTEGER,
  PRIMARY KEY (ts, series_id)
) WITHOUT ROWID;
CREATE TABLE sampling_spans (
  id INTEGER PRIMARY KEY,
  start_ts INTEGER NOT NULL,
  last_ts INTEGER NOT NULL,
  interval_ms INTEGER NOT NULL
);
CREATE VIEW history AS
  SELECT p.ts AS ts, )sql" IPCTRAIL_ISO_TIME("p.ts") R"sql( AS time,
         s.chart AS chart, s.dimension AS dimension, p.value AS value
  FROM points p JOIN series s ON s.id = p.series_id;
)sql";

// Version 2: per-queue series carry the queue's key and owner; the spans view shows times as text.
constexpr const char* kVersion2 = R"sql(
ALTER TABLE series ADD COLUMN queue_key INTEGER;
ALTER TABLE series ADD COLUMN owner_uid INTEGER;
DROP VIEW history;
CREATE VIEW history AS
  SELECT p.ts AS ts, )sql" IPCTRAIL_ISO_TIME("p.ts") R"sql( AS time,
         s.chart AS chart, s.dimension AS dimension, p.value AS value,
         s.queue_key AS queue_key, s.owner_uid AS owner_uid
  FROM points p JOIN series s ON s.id = p.series_id;
CREATE VIEW spans AS
  SELECT start_ts, )sql" IPCTRAIL_ISO_TIME("start_ts") R"sql( AS start_time,
         last_ts, )sql" IPCTRAIL_ISO_TIME("last_ts") R"sql( AS last_time, interval_ms
  FROM sampling_spans;
)sql";

// Version 3: alert transitions, stored with Netdata's status numbers; the alert_log view shows the
// statuses as text (alert_statuses holds the names, so sqlite3 users can join it too). Crit and
// warn are NULL when that level is off; values are NULL when unknown.
constexpr const char* kVersion3 = R"sql(
CREATE TABLE alert_statuses (
  code INTEGER PRIMARY KEY,
  name TEXT NOT NULL
);
INSERT INTO alert_statuses (code, name) VALUES
  (-2, 'REMOVED'), (-1, 'UNDEFINED'), (0, 'UNINITIALIZED'), (1, 'CLEAR'), (2, 'RAISED'),
  (3, 'WARNING'), (4, 'CRITICAL');
CREATE TABLE alert_transitions (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  alert TEXT NOT NULL,
  chart TEXT NOT NULL,
  instance TEXT NOT NULL,
  old_status INTEGER NOT NULL,
  new_status INTEGER NOT NULL,
  old_value REAL,
  new_value REAL,
  warn REAL,
  crit REAL,
  summary TEXT NOT NULL
);
CREATE INDEX alert_transitions_by_ts ON alert_transitions (ts);
CREATE INDEX alert_transitions_by_instance ON alert_transitions (alert, instance);
CREATE VIEW alert_log AS
  SELECT a.ts AS ts, )sql" IPCTRAIL_ISO_TIME("a.ts") R"sql( AS time,
         a.alert AS alert, a.chart AS chart, a.instance AS instance,
         coalesce(o.name, a.old_status) AS old_status, coalesce(n.name, a.new_status) AS new_status,
         a.old_value AS old_value, a.new_value AS new_value, a.warn AS warn, a.crit AS crit,
         a.summary AS summary, a.old_status AS old_status_code, a.new_status AS new_status_code
  FROM alert_transitions a
  LEFT JOIN alert_statuses o ON o.code = a.old_status
  LEFT JOIN alert_statuses n ON n.code = a.new_status;
)sql";

#undef IPCTRAIL_ISO_TIME

// Version 4: the four BPF call charts hold the exact number of calls of each tick instead of calls
// per second (a REAL). A stored rate held for every tick of its sampling span, each tick about one
// interval long, so rate x interval is the calls of each tick, rounded to the nearest whole call.
// The interval is that of the span the row falls in (retention may have clipped that span's start:
// then the span after it). End markers (NULL) stay.
void convert_call_rates_to_counts_per_tick(SQLite::Database& db) {
  db.exec(R"sql(
UPDATE points SET value = CAST(round(value * coalesce(
    (SELECT interval_ms FROM sampling_spans WHERE start_ts <= points.ts
     ORDER BY start_ts DESC LIMIT 1),
    (SELECT interval_ms FROM sampling_spans WHERE start_ts > points.ts
     ORDER BY start_ts LIMIT 1)) / 1000.0) AS INTEGER)
WHERE typeof(value) = 'real' AND EXISTS (SELECT 1 FROM sampling_spans)
  AND series_id IN (SELECT id FROM series WHERE chart IN ('system.ipc_semaphore_calls',
      'system.message_queue_calls', 'system.shared_memory_calls', 'system.ipc_call_errors'));
UPDATE charts SET units = 'calls' WHERE id IN ('system.ipc_semaphore_calls',
    'system.message_queue_calls', 'system.shared_memory_calls', 'system.ipc_call_errors');
)sql");
}

using Migration = void (*)(SQLite::Database&);

// kMigrations[n] takes a file from version n to version n + 1, inside the caller's transaction.
constexpr std::array<Migration, kSchemaVersion> kMigrations = {
    [](SQLite::Database& db) { db.exec(kVersion1); },
    [](SQLite::Database& db) { db.exec(kVersion2); },
    [](SQLite::Database& db) { db.exec(kVersion3); },
    convert_call_rates_to_counts_per_tick,
};

struct FileIdentity {
  std::int64_t application_id = 0;
  int version = 0;
  bool empty = true;
};

FileIdentity identify(SQLite::Database& db, const std::string& path) {
  try {
    FileIdentity identity;
    identity.application_id = db.execAndGet("PRAGMA application_id").getInt64();
    identity.version = db.execAndGet("PRAGMA user_version").getInt();
    identity.empty = db.execAndGet("SELECT count(*) FROM sqlite_schema").getInt() == 0;
    return identity;
  } catch (const SQLite::Exception& error) {
    if (error.getErrorCode() == SQLITE_NOTADB) {
      throw HistoryFileError(
          fmt::format("{} is not an ipctrail history file ({})", path, error.what()));
    }
    throw;
  }
}

void require_ipctrail(const FileIdentity& identity, const std::string& path) {
  if (identity.application_id != kApplicationId) {
    throw HistoryFileError(fmt::format(
        "{} is not an ipctrail history file (SQLite application_id {:#x}, expected {:#x})", path,
        identity.application_id, kApplicationId));
  }
  if (identity.version > kSchemaVersion) {
    throw HistoryFileError(fmt::format(
        "{} has schema version {}, newer than this ipctrail understands ({}); upgrade ipctrail",
        path, identity.version, kSchemaVersion));
  }
}

}  // namespace

void migrate(SQLite::Database& db, const std::string& path, int target) {
  FileIdentity identity = identify(db, path);
  if (identity.empty && identity.application_id == 0) {
    // Set before the first table exists: SQLite cannot switch a populated file to incremental
    // vacuum without rewriting it.
    db.exec("PRAGMA auto_vacuum = INCREMENTAL");
    db.exec(fmt::format("PRAGMA application_id = {}", kApplicationId));
    identity.application_id = kApplicationId;
  }
  require_ipctrail(identity, path);
  for (int version = identity.version; version < target; ++version) {
    db.exec("BEGIN IMMEDIATE");
    try {
      kMigrations[static_cast<std::size_t>(version)](db);
      db.exec(fmt::format("PRAGMA user_version = {}", version + 1));
      db.exec("COMMIT");
    } catch (...) {
      db.exec("ROLLBACK");
      throw;
    }
  }
}

void require_current_schema(SQLite::Database& db, const std::string& path) {
  FileIdentity identity = identify(db, path);
  require_ipctrail(identity, path);
  if (identity.version < kSchemaVersion) {
    throw HistoryFileError(fmt::format(
        "{} has schema version {}, older than this ipctrail's {}; run `ipctrail agent --db {}` "
        "once to upgrade it in place",
        path, identity.version, kSchemaVersion, path));
  }
}

}  // namespace ipctrail
