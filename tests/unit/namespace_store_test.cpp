// The history of every IPC namespace (schema version 9, docs/design.md §9) on real SQLite files:
// one namespaces row per incarnation, series that carry it and end with it, the host's rows as
// before, and a version 8 file upgraded in place.
#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "storage/schema.h"
#include "storage/store.h"
#include "tests/support/history_file_test.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kT0 = 1'795'000'000'000;

class NamespaceStoreTest : public testing::HistoryFileTest {
 protected:
  void SetUp() override {
    testing::HistoryFileTest::SetUp();
    fs::create_directories(dir_);
  }

  static ChartRecord semaphores(std::uint64_t value) {
    return {Chart{"system.ipc_semaphores", "semaphores", {{"semaphores", value}}}, {}};
  }
  static NamespaceTickRecord in_namespace(std::uint64_t inode, std::uint64_t value,
                                          bool new_incarnation = false) {
    NamespaceTickRecord record;
    record.identity = {inode, "ns" + std::to_string(inode), "unknown", "", ""};
    record.new_incarnation = new_incarnation;
    record.charts.push_back(semaphores(value));
    return record;
  }
  static TickRecord tick(std::int64_t ts, std::uint64_t own,
                         std::vector<NamespaceTickRecord> namespaces = {}) {
    TickRecord record;
    record.ts_ms = ts;
    record.interval_ms = 1000;
    record.charts.push_back(semaphores(own));
    record.namespaces = std::move(namespaces);
    return record;
  }
};

TEST_F(NamespaceStoreTest, EachNamespaceHasItsSeriesAndTheHostKeepsItsRows) {
  {
    Store store(options());
    store.write_tick(tick(kT0, 5, {in_namespace(11, 3), in_namespace(12, 7)}));
    store.write_tick(tick(kT0 + 1000, 5, {in_namespace(11, 4), in_namespace(12, 7)}));
  }
  EXPECT_EQ(number("SELECT count(*) FROM namespaces"), 2);
  EXPECT_EQ(text("SELECT group_concat(value) FROM (SELECT value FROM history WHERE namespace = "
                 "'host' ORDER BY ts)"),
            "5");
  EXPECT_EQ(text("SELECT group_concat(value) FROM (SELECT value FROM history WHERE namespace = "
                 "'ns11' ORDER BY ts)"),
            "3,4");
  EXPECT_EQ(text("SELECT group_concat(value) FROM (SELECT value FROM history WHERE namespace = "
                 "'ns12' ORDER BY ts)"),
            "7");
  // The host's series are as a file without namespaces has them: namespace_id NULL.
  EXPECT_EQ(number("SELECT count(*) FROM series WHERE namespace_id IS NULL"), 1);
  EXPECT_EQ(number("SELECT last_seen_ts FROM namespaces WHERE inode = 11"), kT0 + 1000);
  EXPECT_EQ(text("SELECT ended_ts FROM namespaces WHERE inode = 11"), "NULL");
}

TEST_F(NamespaceStoreTest, AGoneNamespaceEndsItsSeriesAndAReusedInodeIsANewRow) {
  {
    Store store(options());
    store.write_tick(tick(kT0, 5, {in_namespace(11, 3), in_namespace(12, 7)}));
    store.write_tick(tick(kT0 + 1000, 5, {in_namespace(12, 7)}));  // 11 is gone
    // The kernel gave 11's inode to a new namespace.
    store.write_tick(tick(kT0 + 2000, 5, {in_namespace(11, 1, true), in_namespace(12, 7)}));
  }
  EXPECT_EQ(number("SELECT count(*) FROM namespaces WHERE inode = 11"), 2);
  EXPECT_EQ(number("SELECT ended_ts FROM namespaces WHERE inode = 11 ORDER BY id LIMIT 1"),
            kT0 + 1000);
  EXPECT_EQ(text("SELECT ended_ts FROM namespaces WHERE inode = 11 ORDER BY id DESC LIMIT 1"),
            "NULL");
  // The first incarnation's series ended like a removed queue's: an end marker, ended_ts.
  EXPECT_EQ(text("SELECT group_concat(coalesce(p.value, 'end')) FROM points p JOIN series s ON "
                 "s.id = p.series_id WHERE s.namespace_id = (SELECT min(id) FROM namespaces)"),
            "3,end");
  EXPECT_EQ(number("SELECT count(*) FROM series WHERE ended_ts = " + std::to_string(kT0 + 1000)),
            1);
  // The second is a series of its own.
  EXPECT_EQ(number("SELECT count(DISTINCT namespace_id) FROM series WHERE namespace_id IS NOT "
                   "NULL"),
            3);
  EXPECT_EQ(number("SELECT count(*) FROM history WHERE namespace = 'host'"), 1);
}

TEST_F(NamespaceStoreTest, ANamespaceNotSampledKeepsItsSeriesOpen) {
  {
    Store store(options());
    store.write_tick(tick(kT0, 5, {in_namespace(11, 3)}));
    NamespaceTickRecord refused = in_namespace(11, 0);
    refused.sampled = false;
    refused.charts.clear();
    store.write_tick(tick(kT0 + 1000, 5, {refused}));
    store.write_tick(tick(kT0 + 2000, 5, {in_namespace(11, 3)}));
  }
  EXPECT_EQ(number("SELECT count(*) FROM namespaces"), 1);
  EXPECT_EQ(number("SELECT count(*) FROM history WHERE value IS NULL"), 0);
  EXPECT_EQ(number("SELECT count(*) FROM series"), 2);
}

TEST_F(NamespaceStoreTest, AVersion8FileUpgradesInPlaceAndItsRowsAreTheHosts) {
  {
    SQLite::Database old(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    migrate(old, path_.string(), 8);
    ASSERT_EQ(old.execAndGet("PRAGMA user_version").getInt(), 8);
    old.exec("INSERT INTO charts (id, units) VALUES ('system.ipc_semaphores', 'semaphores')");
    old.exec(
        "INSERT INTO series (id, chart, dimension) VALUES (1, 'system.ipc_semaphores', "
        "'semaphores')");
    old.exec("INSERT INTO points (ts, series_id, value) VALUES (" + std::to_string(kT0 - 5000) +
             ", 1, 9)");
    old.exec(
        "INSERT INTO alert_transitions (ts, alert, chart, instance, old_status, new_status, "
        "summary) VALUES (" +
        std::to_string(kT0 - 5000) +
        ", 'semaphores_used', 'system.ipc_semaphores', '', 0, 1, 'ok')");
    old.exec(
        "INSERT INTO ipc_objects (kind, ipc_id, key, cuid, cgid, size, created_ts, "
        "first_seen_ts) VALUES ('sem', 1, 0, 0, 0, 1, 0, 0)");
    old.exec(
        "INSERT INTO ipc_object_states (object_id, ts, uid, gid, mode) VALUES (1, 0, 0, 0, "
        "384)");
  }
  {
    Store store(options());
    store.write_tick(tick(kT0, 9, {in_namespace(11, 3)}));
  }
  EXPECT_EQ(number("PRAGMA user_version"), 9);
  // The old row, and the new span's first row: both the host's.
  EXPECT_EQ(number("SELECT count(*) FROM history WHERE namespace = 'host' AND value = 9 AND ts = " +
                   std::to_string(kT0 - 5000)),
            1);
  EXPECT_EQ(number("SELECT count(*) FROM history_by_name WHERE namespace = 'host'"), 2);
  EXPECT_EQ(text("SELECT namespace FROM alert_log"), "host");
  EXPECT_EQ(text("SELECT namespace || ' ' || kind || ' ' || perms FROM objects"), "host sem 600");
  EXPECT_EQ(text("SELECT namespace FROM history WHERE value = 3"), "ns11");
}

// `at`, `query`, `objects` and `alerts` read the host's rows unless --namespace names another.
TEST_F(NamespaceStoreTest, HistoryCommandsReadTheHostsRowsUnlessToldOtherwise) {
  {
    Store store(options());
    store.write_tick(tick(kT0, 5, {in_namespace(11, 3)}));
    store.write_tick(tick(kT0 + 1000, 5, {in_namespace(11, 4)}));
  }
  auto semaphores_at = [&](const std::string& choice) -> nlohmann::json {
    testing::CommandResult result = testing::run_shell(
        "{ " + std::string(IPCTRAIL_BINARY) + " at 2026-11-18T11:06:41.500Z --format json --db " +
        path_.string() + (choice.empty() ? "" : " --namespace " + choice) + " 2>/dev/null; }");
    if (result.exit_code != 0) return result.exit_code;
    nlohmann::json at = nlohmann::json::parse(result.output, nullptr, false);
    return at["charts"]["system.ipc_semaphores"]["dimensions"]["semaphores"]["value"];
  };
  EXPECT_EQ(semaphores_at(""), 5);
  EXPECT_EQ(semaphores_at("host"), 5);
  EXPECT_EQ(semaphores_at("ns11"), 4);
  EXPECT_EQ(semaphores_at("11"), 4);
  EXPECT_EQ(semaphores_at("'ipc:[11]'"), 4);
  EXPECT_EQ(semaphores_at("no-such-namespace"), 2);  // a usage error, said on stderr
  testing::CommandResult unknown = testing::run_ipctrail(
      "query --chart system.ipc_semaphores "
      "--since 2026-11-18T11:06:40Z --db " +
      path_.string() + " --namespace nope");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("no IPC namespace called nope"), std::string::npos)
      << unknown.output;
  for (const char* command : {"objects", "alerts --since 2026-11-18T11:06:40Z"}) {
    testing::CommandResult result = testing::run_ipctrail(std::string(command) + " --db " +
                                                          path_.string() + " --namespace ns11");
    EXPECT_EQ(result.exit_code, 0) << command << ": " << result.output;
  }
}

// An agent restart: a namespace new to the new agent continues the still-open row of its inode
// when its oldest process started before that row was last seen; otherwise (started later, or
// not known) it is a new incarnation, and within one agent's life the agent's word stands.
TEST_F(NamespaceStoreTest, ARestartContinuesTheRowsOfNamespacesThatLived) {
  auto restarted = [](std::uint64_t inode, std::optional<std::int64_t> oldest_start_ms) {
    NamespaceTickRecord record = in_namespace(inode, 3, true);
    record.identity.oldest_process_start_ms = oldest_start_ms;
    return record;
  };
  {
    Store store(options());
    store.write_tick(tick(kT0, 5, {in_namespace(11, 3, true), in_namespace(12, 3, true)}));
    store.write_tick(tick(kT0 + 1000, 5, {in_namespace(11, 3), in_namespace(12, 3)}));
  }
  {
    Store store(options());  // 11's process is older than its row; 12's start is unknown
    store.write_tick(tick(kT0 + 60'000, 5, {restarted(11, kT0 - 5000), restarted(12, {})}));
  }
  EXPECT_EQ(number("SELECT count(*) FROM namespaces WHERE inode = 11"), 1);
  EXPECT_EQ(number("SELECT last_seen_ts FROM namespaces WHERE inode = 11"), kT0 + 60'000);
  EXPECT_EQ(text("SELECT ended_ts FROM namespaces WHERE inode = 11"), "NULL");
  EXPECT_EQ(number("SELECT count(*) FROM series WHERE namespace_id = (SELECT id FROM namespaces "
                   "WHERE inode = 11)"),
            1);
  EXPECT_EQ(number("SELECT count(*) FROM namespaces WHERE inode = 12"), 2);
  {
    Store store(options());  // 11's oldest process now started after its row's last sighting
    store.write_tick(tick(kT0 + 120'000, 5, {restarted(11, kT0 + 100'000)}));
    // This agent says 11 is new again (a reused inode): a new row, whatever the start time says.
    store.write_tick(tick(kT0 + 121'000, 5, {restarted(11, kT0)}));
  }
  EXPECT_EQ(text("SELECT group_concat(coalesce(ended_ts, 'open')) FROM (SELECT ended_ts FROM "
                 "namespaces WHERE inode = 11 ORDER BY id)"),
            std::to_string(kT0 + 120'000) + "," + std::to_string(kT0 + 121'000) + ",open");
}

// Retention: a namespace that went, once the age limit removed its points, series, objects and
// alert transitions (its last state included: its instances went with it), loses its row too;
// the live namespace and the host's latest transition stay.
TEST_F(NamespaceStoreTest, RetentionRemovesTheRowsOfNamespacesNothingRefersTo) {
  StoreOptions aging = options();
  aging.retention.max_age = std::chrono::minutes(1);
  aging.retention.every = std::chrono::milliseconds(0);
  auto transition = [](std::uint64_t inode) {
    AlertTransition raised;
    raised.alert = "semaphores_used";
    raised.chart = "system.ipc_semaphores";
    raised.new_status = AlertStatus::kClear;
    raised.namespace_inode = inode;
    raised.namespace_label = inode == 0 ? "" : "ns" + std::to_string(inode);
    return raised;
  };
  {
    Store store(aging);
    NamespaceTickRecord leaving = in_namespace(11, 3);
    leaving.objects.segments = std::vector<IpcObject>{IpcObject{}};
    leaving.objects.segments->front().kind = IpcKind::kSharedMemory;
    leaving.objects.segments->front().id = 7;
    TickRecord first = tick(kT0, 5, {leaving, in_namespace(12, 7)});
    first.alert_transitions = {transition(0), transition(11), transition(12)};
    store.write_tick(first);
    store.write_tick(tick(kT0 + 1000, 5, {in_namespace(12, 7)}));  // 11 is gone
    EXPECT_EQ(number("SELECT count(*) FROM namespaces"), 2);
    // Past the age limit of everything 11 left (points are kept kRefreshMs before the cutoff),
    // one tick a minute.
    for (std::int64_t ts = kT0 + 60'000; ts <= kT0 + 2 * kRefreshMs; ts += 60'000) {
      TickRecord later = tick(ts, 5, {in_namespace(12, 7)});
      later.interval_ms = 60'000;
      store.write_tick(later);
    }
  }
  EXPECT_EQ(text("SELECT group_concat(label) FROM namespaces"), "ns12");
  EXPECT_EQ(number("SELECT count(*) FROM alert_transitions WHERE namespace_id IS NULL"), 1);
  EXPECT_EQ(number("SELECT count(*) FROM alert_transitions a JOIN namespaces n ON n.id = "
                   "a.namespace_id"),
            1);
}

// `report --namespace` analyses the chosen namespace's rows only: each of two namespaces and the
// host has its own peak, and a namespace the history does not have is a usage error.
TEST_F(NamespaceStoreTest, ReportReadsTheChosenNamespacesRows) {
  {
    Store store(options());
    store.write_tick(tick(kT0, 5, {in_namespace(11, 3), in_namespace(12, 7)}));
    store.write_tick(tick(kT0 + 1000, 5, {in_namespace(11, 4), in_namespace(12, 6)}));
    store.write_tick(tick(kT0 + 2000, 5, {in_namespace(11, 2), in_namespace(12, 6)}));
  }
  auto report = [&](const std::string& choice, const std::string& format) {
    return testing::run_shell(
        "{ " + std::string(IPCTRAIL_BINARY) +
        " report --since 2026-11-18T11:06:00Z --until 2026-11-18T11:08:00Z --format " + format +
        " --db " + path_.string() + (choice.empty() ? "" : " --namespace " + choice) +
        " 2>/dev/null; }");
  };
  auto semaphores_peak = [&](const std::string& choice) -> nlohmann::json {
    testing::CommandResult result = report(choice, "json");
    if (result.exit_code != 0) return result.exit_code;
    nlohmann::json document = nlohmann::json::parse(result.output, nullptr, false);
    for (const nlohmann::json& resource : document["resources"]) {
      if (resource["id"] == "semaphores") {
        return nlohmann::json::array({document["namespace"], resource["peak"]});
      }
    }
    return nullptr;
  };
  EXPECT_EQ(semaphores_peak(""), nlohmann::json::array({"host", 5}));
  EXPECT_EQ(semaphores_peak("host"), nlohmann::json::array({"host", 5}));
  EXPECT_EQ(semaphores_peak("ns11"), nlohmann::json::array({"ns11", 4}));
  EXPECT_EQ(semaphores_peak("12"), nlohmann::json::array({"12", 7}));
  EXPECT_EQ(semaphores_peak("nope"), 2);
  testing::CommandResult text = report("ns12", "text");
  EXPECT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("IPC namespace: ns12\n"), std::string::npos) << text.output;
  testing::CommandResult html = report("ns12", "html");
  EXPECT_NE(html.output.find("IPC namespace <code>ns12</code>"), std::string::npos);
}

}  // namespace
}  // namespace ipctrail
