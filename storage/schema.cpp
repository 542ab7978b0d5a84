#include "storage/schema.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <array>
#include <chrono>

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

// Version 6: every IPC object (docs/design.md §5). One row per incarnation in ipc_objects, the
// fields that move in ipc_object_states (a row when one of them changes; operation times rounded
// down to the minute), and the lifecycle in ipc_object_events. A state row also carries the owner
// and mode, so the state at T says who owned the object then. States are keyed by object, so the
// state of each object at T is one b-tree seek.
constexpr const char* kVersion6 = R"sql(
CREATE TABLE ipc_objects (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  ipc_id INTEGER NOT NULL,
  key INTEGER NOT NULL,
  cuid INTEGER NOT NULL,
  cgid INTEGER NOT NULL,
  size INTEGER,
  cpid INTEGER,
  created_ts INTEGER NOT NULL,
  first_seen_ts INTEGER NOT NULL,
  last_seen_ts INTEGER,
  removed_ts INTEGER
);
CREATE INDEX ipc_objects_removed ON ipc_objects (removed_ts) WHERE removed_ts IS NOT NULL;
CREATE INDEX ipc_objects_live ON ipc_objects (kind, ipc_id) WHERE removed_ts IS NULL;
CREATE TABLE ipc_object_states (
  object_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  gid INTEGER NOT NULL,
  mode INTEGER NOT NULL,
  nattch INTEGER,
  lpid INTEGER,
  lspid INTEGER,
  lrpid INTEGER,
  qnum INTEGER,
  cbytes INTEGER,
  otime INTEGER,
  stime INTEGER,
  rtime INTEGER,
  atime INTEGER,
  dtime INTEGER,
  PRIMARY KEY (object_id, ts)
) WITHOUT ROWID;
CREATE TABLE ipc_object_events (
  ts INTEGER NOT NULL,
  object_id INTEGER NOT NULL,
  event TEXT NOT NULL,
  details TEXT NOT NULL,
  PRIMARY KEY (ts, object_id, event)
) WITHOUT ROWID;
CREATE INDEX ipc_object_events_by_object ON ipc_object_events (object_id);
CREATE VIEW objects AS
  SELECT o.id AS incarnation, o.kind AS kind, o.ipc_id AS id, o.key AS key,
         printf('0x%08x', o.key & 0xffffffff) AS key_hex,
         s.uid AS uid, s.gid AS gid, o.cuid AS cuid, o.cgid AS cgid,
         printf('%03o', s.mode & 511) AS perms, o.size AS size, o.cpid AS cpid,
         o.created_ts AS created_ts, )sql" IPCTRAIL_ISO_TIME("o.created_ts") R"sql( AS created_time,
         o.first_seen_ts AS first_seen_ts,
         )sql" IPCTRAIL_ISO_TIME("o.first_seen_ts") R"sql( AS first_seen_time,
         o.last_seen_ts AS last_seen_ts,
         CASE WHEN o.last_seen_ts IS NOT NULL THEN )sql" IPCTRAIL_ISO_TIME("o.last_seen_ts") R"sql(
         END AS last_seen_time,
         o.removed_ts AS removed_ts,
         CASE WHEN o.removed_ts IS NOT NULL THEN )sql" IPCTRAIL_ISO_TIME("o.removed_ts") R"sql(
         END AS removed_time
  FROM ipc_objects o
  JOIN ipc_object_states s ON s.object_id = o.id
   AND s.ts = (SELECT max(ts) FROM ipc_object_states WHERE object_id = o.id);
CREATE VIEW object_events AS
  SELECT e.ts AS ts, )sql" IPCTRAIL_ISO_TIME("e.ts") R"sql( AS time, o.kind AS kind,
         o.ipc_id AS id, o.key AS key, printf('0x%08x', o.key & 0xffffffff) AS key_hex,
         e.event AS event, e.details AS details, o.id AS incarnation
  FROM ipc_object_events e JOIN ipc_objects o ON o.id = e.object_id;
)sql";

// The objects view from version 7 on: each incarnation with its latest state. Each later version
// adds columns (`more_columns`, starting with a comma) and the joins they need (`more_joins`), so
// the body is written once.
#define IPCTRAIL_OBJECTS_VIEW(more_columns, more_joins) \
  "CREATE VIEW objects AS\n"                                                                     \
  "  SELECT o.id AS incarnation, o.kind AS kind, o.ipc_id AS id, o.key AS key,\n"                \
  "         printf('0x%08x', o.key & 0xffffffff) AS key_hex,\n"                                  \
  "         s.uid AS uid, s.gid AS gid, o.cuid AS cuid, o.cgid AS cgid,\n"                       \
  "         printf('%03o', s.mode & 511) AS perms, o.size AS size, s.qbytes AS qbytes,\n"        \
  "         o.cpid AS cpid, o.created_ts AS created_ts,\n"                                       \
  "         " IPCTRAIL_ISO_TIME("o.created_ts") " AS created_time,\n"                            \
  "         o.first_seen_ts AS first_seen_ts,\n"                                                 \
  "         " IPCTRAIL_ISO_TIME("o.first_seen_ts") " AS first_seen_time,\n"                      \
  "         o.last_seen_ts AS last_seen_ts,\n"                                                   \
  "         CASE WHEN o.last_seen_ts IS NOT NULL THEN " IPCTRAIL_ISO_TIME("o.last_seen_ts") "\n" \
  "         END AS last_seen_time,\n"                                                            \
  "         o.removed_ts AS removed_ts,\n"                                                       \
  "         CASE WHEN o.removed_ts IS NOT NULL THEN " IPCTRAIL_ISO_TIME("o.removed_ts") "\n"     \
  "         END AS removed_time" more_columns "\n"                                               \
  "  FROM ipc_objects o\n"                                                                       \
  "  JOIN ipc_object_states s ON s.object_id = o.id\n"                                           \
  "   AND s.ts = (SELECT max(ts) FROM ipc_object_states WHERE object_id = o.id)" more_joins ";\n"

// Version 7: each queue's capacity (msg_qbytes, read with msgctl since procfs does not state it)
// moves with msgctl(IPC_SET), so it is a state column; the objects view shows the latest one.
// `created` and `removed` are no longer stored as events: ipc_objects already holds their times,
// and their details come from it and the incarnation's first state (half the bytes of a churning
// host went into those two rows and their text). object_events derives them; an index on the
// creation event's time keeps a time range a search.
constexpr const char* kVersion7 = R"sql(
ALTER TABLE ipc_object_states ADD COLUMN qbytes INTEGER;
DELETE FROM ipc_object_events WHERE event IN ('created', 'removed');
CREATE INDEX ipc_objects_created ON ipc_objects (min(created_ts, first_seen_ts));
DROP VIEW object_events;
CREATE VIEW object_events AS
  SELECT ts, )sql" IPCTRAIL_ISO_TIME("ts") R"sql( AS time, kind, id, key,
         printf('0x%08x', key & 0xffffffff) AS key_hex, event, details, incarnation
  FROM (
    SELECT e.ts AS ts, o.kind AS kind, o.ipc_id AS id, o.key AS key, e.event AS event,
           e.details AS details, o.id AS incarnation
    FROM ipc_object_events e JOIN ipc_objects o ON o.id = e.object_id
    UNION ALL
    SELECT min(o.created_ts, o.first_seen_ts), o.kind, o.ipc_id, o.key, 'created',
           printf('key 0x%08x, owner %d:%d, creator %d:%d, mode %03o', o.key & 0xffffffff, s.uid,
                  s.gid, o.cuid, o.cgid, s.mode & 511) ||
           CASE o.kind WHEN 'sem' THEN printf(', nsems %d', o.size)
                       WHEN 'shm' THEN printf(', size %d bytes, creator pid %d', o.size, o.cpid)
                       ELSE '' END,
           o.id
    FROM ipc_objects o JOIN ipc_object_states s ON s.object_id = o.id
     AND s.ts = (SELECT min(ts) FROM ipc_object_states WHERE object_id = o.id)
    UNION ALL
    SELECT o.removed_ts, o.kind, o.ipc_id, o.key, 'removed',
           'gone since the tick at ' || )sql" IPCTRAIL_ISO_TIME("o.last_seen_ts") R"sql(, o.id
    FROM ipc_objects o WHERE o.removed_ts IS NOT NULL);
DROP VIEW objects;
)sql" IPCTRAIL_OBJECTS_VIEW("", "");

// The text a person reads for a process: "apache2 (pid 4711, apache2.service)".
#define IPCTRAIL_PROCESS_TEXT(p) \
  p ".comm || ' (pid ' || " p ".tgid || coalesce(', ' || " p ".unit, '') || ')'"

// Version 8's objects columns: the creator and the remover (processes).
#define IPCTRAIL_OBJECT_PROCESS_COLUMNS \
  ",\n         cp.tgid AS creator_pid, cp.comm AS creator_comm, cp.unit AS creator_unit,\n" \
  "         " IPCTRAIL_PROCESS_TEXT("cp") " AS created_by,\n"                             \
  "         rp.tgid AS remover_pid, rp.comm AS remover_comm, rp.unit AS remover_unit,\n"  \
  "         " IPCTRAIL_PROCESS_TEXT("rp") " AS removed_by"
#define IPCTRAIL_OBJECT_PROCESS_JOINS                          \
  "\n  LEFT JOIN processes cp ON cp.id = o.creator_process_id" \
  "\n  LEFT JOIN processes rp ON rp.id = o.remover_process_id"

// Version 8 (docs/design.md §6): who made the IPC calls, from BPF. One row per process seen
// (processes: pid, comm, cgroup and the name of its owner, first and last seen), so that the counts
// do not repeat text; per-tick non-zero counts by process, call and errno class
// (process_call_counts: errno 0 is success, n the n-th class of errno_classes); when per-process
// counting was on (process_spans), and what the kernel could not hold (process_losses, a row only
// for a tick that lost something). The creator and remover of an object incarnation refer to
// processes (the created and removed events of object_events show them); creations and removals the
// inventory never saw (made and undone between two ticks) are kept in unseen_object_events.
constexpr const char* kVersion8 = R"sql(
CREATE TABLE processes (
  id INTEGER PRIMARY KEY,
  tgid INTEGER NOT NULL,
  comm TEXT NOT NULL,
  cgroup_id INTEGER NOT NULL,
  unit TEXT,
  first_seen_ts INTEGER NOT NULL,
  last_seen_ts INTEGER NOT NULL
);
CREATE INDEX processes_by_pid ON processes (tgid, cgroup_id);
CREATE TABLE ipc_call_names (
  code INTEGER PRIMARY KEY,
  name TEXT NOT NULL
);
INSERT INTO ipc_call_names (code, name) VALUES
  (0, 'semget'), (1, 'semop'), (2, 'semtimedop'), (3, 'semctl'), (4, 'msgget'), (5, 'msgsnd'),
  (6, 'msgrcv'), (7, 'msgctl'), (8, 'shmget'), (9, 'shmat'), (10, 'shmdt'), (11, 'shmctl');
CREATE TABLE errno_classes (
  code INTEGER PRIMARY KEY,
  name TEXT NOT NULL
);
INSERT INTO errno_classes (code, name) VALUES
  (1, 'ENOSPC'), (2, 'EAGAIN'), (3, 'EIDRM'), (4, 'EACCES'), (5, 'EINVAL'), (6, 'ENOMEM'),
  (7, 'EEXIST'), (8, 'ENOENT'), (9, 'E2BIG'), (10, 'EINTR'), (11, 'other');
CREATE TABLE process_call_counts (
  ts INTEGER NOT NULL,
  process_id INTEGER NOT NULL,
  call INTEGER NOT NULL,
  errno INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (ts, process_id, call, errno)
) WITHOUT ROWID;
CREATE TABLE process_spans (
  id INTEGER PRIMARY KEY,
  start_ts INTEGER NOT NULL,
  last_ts INTEGER NOT NULL
);
CREATE TABLE process_losses (
  ts INTEGER PRIMARY KEY,
  calls_not_attributed INTEGER NOT NULL,
  events_lost INTEGER NOT NULL
);
CREATE TABLE unseen_object_events (
  ts INTEGER NOT NULL,
  kind TEXT NOT NULL,
  ipc_id INTEGER NOT NULL,
  event TEXT NOT NULL,
  key INTEGER,
  process_id INTEGER NOT NULL,
  PRIMARY KEY (ts, kind, ipc_id, event)
) WITHOUT ROWID;
ALTER TABLE ipc_objects ADD COLUMN creator_process_id INTEGER;
ALTER TABLE ipc_objects ADD COLUMN remover_process_id INTEGER;
CREATE INDEX ipc_objects_by_creator ON ipc_objects (creator_process_id)
  WHERE creator_process_id IS NOT NULL;
CREATE INDEX ipc_objects_by_remover ON ipc_objects (remover_process_id)
  WHERE remover_process_id IS NOT NULL;
CREATE VIEW process_calls AS
  SELECT c.ts AS ts, )sql" IPCTRAIL_ISO_TIME("c.ts") R"sql( AS time, p.tgid AS pid,
         p.comm AS comm, p.unit AS unit, n.name AS call, e.name AS errno, c.count AS count,
         p.cgroup_id AS cgroup_id
  FROM process_call_counts c JOIN processes p ON p.id = c.process_id
  JOIN ipc_call_names n ON n.code = c.call
  LEFT JOIN errno_classes e ON e.code = c.errno;
DROP VIEW objects;
)sql" IPCTRAIL_OBJECTS_VIEW(IPCTRAIL_OBJECT_PROCESS_COLUMNS, IPCTRAIL_OBJECT_PROCESS_JOINS) R"sql(
DROP VIEW object_events;
CREATE VIEW object_events AS
  SELECT ts, )sql" IPCTRAIL_ISO_TIME("ts") R"sql( AS time, kind, id, key,
         CASE WHEN key IS NOT NULL THEN printf('0x%08x', key & 0xffffffff) END AS key_hex, event,
         details, incarnation, pid, comm, unit, process
  FROM (
    SELECT e.ts AS ts, o.kind AS kind, o.ipc_id AS id, o.key AS key, e.event AS event,
           e.details AS details, o.id AS incarnation, NULL AS pid, NULL AS comm, NULL AS unit,
           NULL AS process
    FROM ipc_object_events e JOIN ipc_objects o ON o.id = e.object_id
    UNION ALL
    SELECT min(o.created_ts, o.first_seen_ts), o.kind, o.ipc_id, o.key, 'created',
           printf('key 0x%08x, owner %d:%d, creator %d:%d, mode %03o', o.key & 0xffffffff, s.uid,
                  s.gid, o.cuid, o.cgid, s.mode & 511) ||
           CASE o.kind WHEN 'sem' THEN printf(', nsems %d', o.size)
                       WHEN 'shm' THEN printf(', size %d bytes, creator pid %d', o.size, o.cpid)
                       ELSE '' END,
           o.id, p.tgid, p.comm, p.unit, )sql" IPCTRAIL_PROCESS_TEXT("p") R"sql(
    FROM ipc_objects o JOIN ipc_object_states s ON s.object_id = o.id
     AND s.ts = (SELECT min(ts) FROM ipc_object_states WHERE object_id = o.id)
    LEFT JOIN processes p ON p.id = o.creator_process_id
    UNION ALL
    SELECT o.removed_ts, o.kind, o.ipc_id, o.key, 'removed',
           'gone since the tick at ' || )sql" IPCTRAIL_ISO_TIME("o.last_seen_ts") R"sql(, o.id,
           p.tgid, p.comm, p.unit, )sql" IPCTRAIL_PROCESS_TEXT("p") R"sql(
    FROM ipc_objects o LEFT JOIN processes p ON p.id = o.remover_process_id
    WHERE o.removed_ts IS NOT NULL
    UNION ALL
    SELECT u.ts, u.kind, u.ipc_id, u.key, u.event,
           CASE u.event WHEN 'created' THEN 'never in the inventory: removed before the next tick'
                ELSE 'never in the inventory: created after the previous tick' END,
           NULL, p.tgid, p.comm, p.unit, )sql" IPCTRAIL_PROCESS_TEXT("p") R"sql(
    FROM unseen_object_events u JOIN processes p ON p.id = u.process_id);
)sql";

// Version 9 (docs/design.md §9): every IPC namespace the agent watches with `namespaces: all`.
// One row per namespace *incarnation* (the kernel reuses a gone namespace's inode for the next
// one), with its label and owner, and when it was first and last seen and ended. Series, object
// incarnations and alert transitions carry their namespace's row; NULL is the agent's own
// namespace (the host's, for the packaged service), so every row of older files is the host's and
// yesterday's queries find the same rows. The views show the label as `namespace`.
constexpr const char* kVersion9 = R"sql(
CREATE TABLE namespaces (
  id INTEGER PRIMARY KEY,
  inode INTEGER NOT NULL,
  label TEXT NOT NULL,
  owner_kind TEXT NOT NULL,
  owner_name TEXT,
  container TEXT,
  first_seen_ts INTEGER NOT NULL,
  last_seen_ts INTEGER NOT NULL,
  ended_ts INTEGER
);
CREATE INDEX namespaces_live ON namespaces (inode) WHERE ended_ts IS NULL;
ALTER TABLE series ADD COLUMN namespace_id INTEGER;
ALTER TABLE ipc_objects ADD COLUMN namespace_id INTEGER;
ALTER TABLE alert_transitions ADD COLUMN namespace_id INTEGER;
DROP VIEW history_by_name;
DROP VIEW history;
CREATE VIEW history AS
  SELECT p.ts AS ts, )sql" IPCTRAIL_ISO_TIME("p.ts") R"sql( AS time,
         s.chart AS chart, s.dimension AS dimension, p.value AS value,
         s.queue_key AS queue_key, s.owner_uid AS owner_uid,
         coalesce(n.label, 'host') AS namespace
  FROM points p JOIN series s ON s.id = p.series_id
  LEFT JOIN namespaces n ON n.id = s.namespace_id;
CREATE VIEW history_by_name AS
  SELECT h.chart AS name, h.ts AS ts, h.time AS time, h.chart AS chart, h.dimension AS dimension,
         h.value AS value, h.queue_key AS queue_key, h.owner_uid AS owner_uid,
         h.namespace AS namespace
  FROM history h
  UNION ALL
  SELECT a.alias AS name, h.ts AS ts, h.time AS time, h.chart AS chart, h.dimension AS dimension,
         h.value AS value, h.queue_key AS queue_key, h.owner_uid AS owner_uid,
         h.namespace AS namespace
  FROM chart_aliases a JOIN history h ON h.chart = a.chart;
DROP VIEW alert_log;
CREATE VIEW alert_log AS
  SELECT a.ts AS ts, )sql" IPCTRAIL_ISO_TIME("a.ts") R"sql( AS time,
         a.alert AS alert, a.chart AS chart, a.instance AS instance,
         coalesce(o.name, a.old_status) AS old_status, coalesce(n.name, a.new_status) AS new_status,
         a.old_value AS old_value, a.new_value AS new_value, a.warn AS warn, a.crit AS crit,
         a.summary AS summary, a.old_status AS old_status_code, a.new_status AS new_status_code,
         coalesce(ns.label, 'host') AS namespace
  FROM alert_transitions a
  LEFT JOIN alert_statuses o ON o.code = a.old_status
  LEFT JOIN alert_statuses n ON n.code = a.new_status
  LEFT JOIN namespaces ns ON ns.id = a.namespace_id;
DROP VIEW objects;
)sql" IPCTRAIL_OBJECTS_VIEW(
    IPCTRAIL_OBJECT_PROCESS_COLUMNS ",\n         coalesce(ns.label, 'host') AS namespace",
    IPCTRAIL_OBJECT_PROCESS_JOINS "\n  LEFT JOIN namespaces ns ON ns.id = o.namespace_id");

#undef IPCTRAIL_OBJECT_PROCESS_JOINS
#undef IPCTRAIL_OBJECT_PROCESS_COLUMNS
#undef IPCTRAIL_OBJECTS_VIEW
#undef IPCTRAIL_PROCESS_TEXT
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

// Version 5: each chart's Netdata metadata (model/chart_table.h; the store writes the values), and
// Netdata's names for our charts as aliases: chart_names maps every name to its chart, and
// history_by_name shows each history row under every name of its chart, so a query may name a
// chart either way. The history view itself is unchanged, one row per value.
void add_chart_metadata_and_aliases(SQLite::Database& db) {
  db.exec(R"sql(
ALTER TABLE charts ADD COLUMN title TEXT;
ALTER TABLE charts ADD COLUMN family TEXT;
ALTER TABLE charts ADD COLUMN context TEXT;
ALTER TABLE charts ADD COLUMN chart_type TEXT;
ALTER TABLE charts ADD COLUMN priority INTEGER;
CREATE TABLE chart_aliases (
  alias TEXT PRIMARY KEY,
  chart TEXT NOT NULL
) WITHOUT ROWID;
CREATE VIEW chart_names AS
  SELECT id AS name, id AS chart FROM charts
  UNION ALL
  SELECT alias AS name, chart FROM chart_aliases;
CREATE VIEW history_by_name AS
  SELECT h.chart AS name, h.ts AS ts, h.time AS time, h.chart AS chart, h.dimension AS dimension,
         h.value AS value, h.queue_key AS queue_key, h.owner_uid AS owner_uid
  FROM history h
  UNION ALL
  SELECT a.alias AS name, h.ts AS ts, h.time AS time, h.chart AS chart, h.dimension AS dimension,
         h.value AS value, h.queue_key AS queue_key, h.owner_uid AS owner_uid
  FROM chart_aliases a JOIN history h ON h.chart = a.chart;
)sql");
}

using Migration = void (*)(SQLite::Database&);

// kMigrations[n] takes a file from version n to version n + 1, inside the caller's transaction.
constexpr std::array<Migration, kSchemaVersion> kMigrations = {
    [](SQLite::Database& db) { db.exec(kVersion1); },
    [](SQLite::Database& db) { db.exec(kVersion2); },
    [](SQLite::Database& db) { db.exec(kVersion3); },
    convert_call_rates_to_counts_per_tick,
    add_chart_metadata_and_aliases,
    [](SQLite::Database& db) { db.exec(kVersion6); },
    [](SQLite::Database& db) { db.exec(kVersion7); },
    [](SQLite::Database& db) { db.exec(kVersion8); },
    [](SQLite::Database& db) { db.exec(kVersion9); },
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

// A file ipctrail may make its own: new (no tables, no identity, no version). An empty SQLite
// file another application stamped with a version is not.
bool is_new(const FileIdentity& identity) {
  return identity.empty && identity.application_id == 0 && identity.version == 0;
}

[[noreturn]] void refuse_damaged(const std::string& path, const std::string& detail) {
  throw HistoryFileError(fmt::format(
      "{} is damaged ({}): move it aside (`mv {} {}.damaged`) and start the agent again for a new "
      "file; `sqlite3 {}.damaged .recover | sqlite3 recovered.db` saves what can be read",
      path, detail, path, path, path));
}

}  // namespace

void check_before_writing(SQLite::Database& db, const std::string& path) {
  using Clock = std::chrono::steady_clock;
  Clock::time_point deadline = Clock::now() + kQuickCheckBudget;
  sqlite3_progress_handler(
      db.getHandle(), 10'000,
      [](void* until) { return Clock::now() > *static_cast<Clock::time_point*>(until) ? 1 : 0; },
      &deadline);
  try {
    FileIdentity identity = identify(db, path);
    if (!is_new(identity)) require_ipctrail(identity, path);
    std::string verdict = db.execAndGet("PRAGMA quick_check(1)").getString();
    if (verdict != "ok") refuse_damaged(path, "quick_check: " + verdict);
  } catch (const SQLite::Exception& error) {
    sqlite3_progress_handler(db.getHandle(), 0, nullptr, nullptr);
    if (error.getErrorCode() == SQLITE_INTERRUPT) {
      spdlog::info("{}: integrity check stopped after {} s (a big file); going on", path,
                   kQuickCheckBudget.count());
      return;
    }
    if (error.getErrorCode() == SQLITE_CORRUPT || error.getErrorCode() == SQLITE_NOTADB) {
      refuse_damaged(path, error.what());
    }
    throw;
  } catch (...) {
    sqlite3_progress_handler(db.getHandle(), 0, nullptr, nullptr);
    throw;
  }
  sqlite3_progress_handler(db.getHandle(), 0, nullptr, nullptr);
}

void migrate(SQLite::Database& db, const std::string& path, int target) {
  FileIdentity identity = identify(db, path);
  if (is_new(identity)) {
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
