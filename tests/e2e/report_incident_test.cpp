// `ipctrail report` end to end on the real kernel: the agent, with BPF counting, watches a private
// IPC namespace (semmni 10) while a crash-looping program leaks one semaphore array per run until
// semget fails with ENOSPC, then stops. The report over that window must name when growth
// started, when the limit was reached, the alerts and how long before the first failure they
// came, the exact failure count, the leaked arrays, the failing process (its name and pids) and
// the creator of each leaked array, and "still happening: no" a minute after;
// text and HTML must carry the same facts, and the HTML must render in headless Chromium with
// its plots and without fetching anything.
#include <signal.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "model/time_parse.h"
#include "model/time_text.h"
#include "report/render.h"
#include "tests/support/agent_process.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/prometheus_support.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

// The crash-looping program's command name, as BPF reads it from the task (prctl PR_SET_NAME).
constexpr const char* kLeaker = "leaker";

// One run of the crash-looping program: creates its semaphore array and dies without removing
// it (as Apache's `Mutex sysvsem` does on kill -9). Whether semget succeeded; `pid` is the run's.
bool crash_loop_once(pid_t& pid) {
  pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_NAME, kLeaker);
    ::_exit(::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600) >= 0 ? 0 : errno);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

class ReportIncident : public testing::IpcNamespaceTest {
 protected:
  void SetUp() override {
    testing::IpcNamespaceTest::SetUp();
    if (::testing::Test::IsSkipped() || ::testing::Test::HasFailure()) return;
    testing::run_shell(
        "mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing");
  }

  std::int64_t latest_tick() {
    std::vector<std::int64_t> ticks = testing::committed_ticks(testing::read_text(log_));
    return ticks.empty() ? 0 : ticks.back();
  }

  // Waits (bounded) until the agent has committed a tick at or after ts_ms.
  bool wait_for_tick_at(std::int64_t ts_ms, std::chrono::seconds bound = 30s) {
    for (auto deadline = std::chrono::steady_clock::now() + bound;
         std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(20ms)) {
      if (latest_tick() >= ts_ms) return true;
    }
    return false;
  }

  std::string sql(const std::string& query) {
    testing::CommandResult result = testing::run_shell("sqlite3 " + db_ + " \"" + query + "\"");
    return result.output.substr(0, result.output.find('\n'));
  }

  bool wait_for_sql(const std::string& query, const std::string& expected) {
    for (auto deadline = std::chrono::steady_clock::now() + 30s;
         std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(50ms)) {
      if (sql(query) == expected) return true;
    }
    return false;
  }

  testing::CommandResult report(const std::string& format, std::int64_t since_ms,
                                std::int64_t until_ms, const std::string& out) {
    return testing::run_ipctrail("report --db " + db_ + " --since " + iso8601_utc(since_ms) +
                                 " --until " + iso8601_utc(until_ms) + " --format " + format +
                                 " -o " + out);
  }

  testing::ScratchDirectory scratch_;
  std::string db_ = (scratch_.path() / "history.db").string();
  std::string config_ = (scratch_.path() / "ipctrail.yaml").string();
  std::string log_ = (scratch_.path() / "agent.log").string();
};

const Json& resource(const Json& root, const std::string& id) {
  for (const Json& r : root["resources"]) {
    if (r["id"] == id) return r;
  }
  throw std::runtime_error("no resource " + id);
}

// The URLs a headless Chromium requested while loading `url`, without their queries.
std::set<std::string> chromium_requests(const std::string& url, const std::string& net_log,
                                        const std::string& extra, std::string& dom) {
  testing::CommandResult run = testing::run_shell(
      "timeout -s KILL 120 chromium --headless --no-sandbox --disable-gpu "
      "--disable-background-networking --disable-component-update --disable-sync --no-first-run "
      "--disable-default-apps --disable-extensions --enable-logging=stderr --log-net-log=" +
      net_log + " " + extra + " " + url + " 2>" + net_log + ".stderr");
  dom = run.output;
  std::set<std::string> urls;
  std::string log = testing::read_text(net_log);
  std::regex request("\"url\":\"([a-z]+://[^\"?]*)");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), request);
       it != std::sregex_iterator(); ++it) {
    urls.insert((*it)[1]);
  }
  return urls;
}

TEST_F(ReportIncident, NamesTheLeakItsAlertsLeadTimesFailuresAndThatItStopped) {
  set_kernel_value("sem", "250 32000 32 10");
  std::ofstream(config_) << "interval: 100ms\n"
                            "bpf:\n  enabled: true\n  mode: tracepoint\n"
                            "leaks:\n  min_age: 1s\n"
                            "alerts:\n  semaphore_arrays_used:\n    every: 100ms\n";
  testing::AgentProcess agent(db_, {"--config", config_}, log_);
  // Counting is on once the call charts have a series (the first tick after attaching).
  ASSERT_TRUE(
      wait_for_sql("SELECT count(*) > 0 FROM series WHERE chart = "
                   "'system.ipc_semaphore_calls'",
                   "1"))
      << testing::read_text(log_);
  ASSERT_TRUE(
      wait_for_sql("SELECT new_status FROM alert_log WHERE alert = "
                   "'semaphore_arrays_used' ORDER BY ts DESC LIMIT 1",
                   "CLEAR"));
  std::int64_t since = unix_now_ms();
  ASSERT_TRUE(wait_for_tick_at(since + 1000));  // a quiet second before the leak

  // The leak: one array per run, each seen by a tick of its own.
  std::int64_t first_create = unix_now_ms();
  std::int64_t first_seen_by = 0;
  std::int64_t tenth_create = 0;
  std::set<std::int32_t> leaker_pids;
  for (int run = 0; run < 10; ++run) {
    if (run == 9) tenth_create = unix_now_ms();
    pid_t pid = 0;
    ASSERT_TRUE(crash_loop_once(pid)) << "run " << run;
    leaker_pids.insert(pid);
    std::int64_t created = unix_now_ms();
    ASSERT_TRUE(wait_for_tick_at(created + 1));
    if (run == 0) first_seen_by = latest_tick();
  }
  std::int64_t tenth_seen_by = latest_tick();
  // The alert is CRITICAL before the first failure: that is what lead time measures.
  ASSERT_TRUE(
      wait_for_sql("SELECT new_status FROM alert_log WHERE alert = "
                   "'semaphore_arrays_used' ORDER BY ts DESC LIMIT 1",
                   "CRITICAL"));
  constexpr int kFailures = 3;
  std::vector<std::int32_t> failing_pids;
  for (int run = 0; run < kFailures; ++run) {
    pid_t pid = 0;
    ASSERT_FALSE(crash_loop_once(pid)) << "run " << run;
    failing_pids.push_back(pid);
  }
  std::sort(failing_pids.begin(), failing_pids.end());
  std::int64_t last_failure = unix_now_ms();
  ASSERT_TRUE(wait_for_tick_at(last_failure + 1));
  std::int64_t during = latest_tick();

  // A minute and a bit later, with nothing failing or growing since, it is over.
  ASSERT_TRUE(wait_for_tick_at(last_failure + 62'000, 150s));
  std::int64_t until = latest_tick();
  EXPECT_EQ(agent.stop(SIGTERM), 0);

  std::string json_file = (scratch_.path() / "report.json").string();
  testing::CommandResult made = report("json", since, until, json_file);
  ASSERT_EQ(made.exit_code, 0) << made.output;
  Json root = Json::parse(testing::read_text(json_file));
  EXPECT_EQ(root["report_version"], 1);

  const Json& arrays = resource(root, "arrays");
  EXPECT_EQ(arrays["start"], 0);
  EXPECT_EQ(arrays["peak"], 10);
  EXPECT_EQ(arrays["limit"], 10);
  EXPECT_EQ(arrays["limit_name"], "semmni");
  EXPECT_GE(arrays["growth_started_ts"].get<std::int64_t>(), first_create);
  EXPECT_LE(arrays["growth_started_ts"].get<std::int64_t>(), first_seen_by);
  EXPECT_GE(arrays["limit_reached_ts"].get<std::int64_t>(), tenth_create);
  EXPECT_LE(arrays["limit_reached_ts"].get<std::int64_t>(), tenth_seen_by);
  EXPECT_DOUBLE_EQ(arrays["peak_percent_of_limit"].get<double>(), 100.0);

  ASSERT_EQ(root["failures"].size(), 1u) << root["failures"].dump();
  EXPECT_EQ(root["failures"][0]["call"], "semget");
  EXPECT_EQ(root["failures"][0]["errno"], "ENOSPC");
  EXPECT_EQ(root["failures"][0]["count"], kFailures);
  std::int64_t first_failure = root["failures"][0]["first_ts"];
  EXPECT_GT(first_failure, tenth_seen_by);

  std::set<std::string> raised;
  for (const Json& t : root["alert_transitions"]) {
    if (t["alert"] != "semaphore_arrays_used") continue;
    if (t["new_status"] == "WARNING" || t["new_status"] == "CRITICAL") {
      raised.insert(t["new_status"]);
      EXPECT_EQ(t["first_failure"], "semget_ENOSPC");
      EXPECT_EQ(t["lead_ms"].get<std::int64_t>(), first_failure - t["at_ts"].get<std::int64_t>());
      EXPECT_GT(t["lead_ms"].get<std::int64_t>(), 0) << t.dump();
    }
  }
  EXPECT_EQ(raised, (std::set<std::string>{"WARNING", "CRITICAL"}));

  // The failing process, by name and pids, with the exact count; nothing else failed.
  EXPECT_EQ(root["per_process"]["recorded"], true) << root["per_process"].dump();
  ASSERT_EQ(root["failures_by_process"].size(), 1u) << root["failures_by_process"].dump();
  const Json& failing = root["failures_by_process"][0];
  EXPECT_EQ(failing["process"], kLeaker);
  EXPECT_EQ(failing["pids"].get<std::vector<std::int32_t>>(), failing_pids);
  EXPECT_EQ(failing["call"], "semget");
  EXPECT_EQ(failing["errno"], "ENOSPC");
  EXPECT_EQ(failing["count"], kFailures);
  EXPECT_EQ(root["per_process"]["calls_not_attributed"], 0);

  EXPECT_EQ(root["objects"]["created"]["sem"], 10);
  ASSERT_EQ(root["objects"]["by_process"].size(), 1u) << root["objects"].dump();
  EXPECT_EQ(root["objects"]["by_process"][0]["process"], kLeaker);
  EXPECT_EQ(root["objects"]["by_process"][0]["kind"], "sem");
  EXPECT_EQ(root["objects"]["by_process"][0]["created"], 10);
  // Each leaked array names the run of the leaker that created it.
  std::size_t leaked_arrays = 0;
  std::set<std::int32_t> creators;
  std::vector<std::string> creator_texts;
  for (const Json& suspect : root["leak_suspects"]) {
    if (suspect["kind"] != "sem") continue;
    ++leaked_arrays;
    ASSERT_TRUE(suspect["creator"].is_object()) << suspect.dump();
    EXPECT_EQ(suspect["creator"]["process"], kLeaker);
    creators.insert(suspect["creator"]["pid"].get<std::int32_t>());
    creator_texts.push_back(suspect["creator"]["text"]);
  }
  EXPECT_EQ(leaked_arrays, 10u);
  EXPECT_EQ(creators, leaker_pids);
  EXPECT_EQ(root["still_happening"]["answer"], "no") << root["still_happening"].dump();

  std::string during_file = (scratch_.path() / "during.json").string();
  ASSERT_EQ(report("json", since, during, during_file).exit_code, 0);
  Json while_failing = Json::parse(testing::read_text(during_file));
  EXPECT_EQ(while_failing["still_happening"]["answer"], "yes");

  // The same facts in text and HTML.
  std::string text_file = (scratch_.path() / "report.txt").string();
  std::string html_file = (scratch_.path() / "report.html").string();
  ASSERT_EQ(report("text", since, until, text_file).exit_code, 0);
  ASSERT_EQ(report("html", since, until, html_file).exit_code, 0);
  std::string text = testing::read_text(text_file);
  std::string html = testing::read_text(html_file);
  for (const std::string& fact : {arrays["growth_started_time"].get<std::string>(),
                                  arrays["limit_reached_time"].get<std::string>(),
                                  root["failures"][0]["first_time"].get<std::string>(),
                                  root["failures"][0]["last_time"].get<std::string>()}) {
    EXPECT_NE(text.find(fact), std::string::npos) << fact << "\n" << text;
    EXPECT_NE(html.find(fact), std::string::npos) << fact;
  }
  EXPECT_NE(text.find("semget ENOSPC: 3 failures"), std::string::npos) << text;
  std::string failing_pids_text;
  for (std::int32_t pid : failing_pids) {
    failing_pids_text += (failing_pids_text.empty() ? "" : ", ") + std::to_string(pid);
  }
  std::string failing_name =
      failing["unit"].is_string()
          ? std::string(kLeaker) + " (" + failing["unit"].get<std::string>() + ")"
          : std::string(kLeaker);
  EXPECT_NE(
      text.find("  " + failing_name + " semget ENOSPC: 3 failures, first " +
                failing["first_time"].get<std::string>() + ", last " +
                failing["last_time"].get<std::string>() + " (pids " + failing_pids_text + ")\n"),
      std::string::npos)
      << text;
  EXPECT_NE(html.find("<td>" + std::string(kLeaker) + "</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>" + failing_pids_text + "</td><td>semget</td><td>ENOSPC</td><td>3</td>"),
            std::string::npos);
  for (const std::string& creator : creator_texts) {  // "leaker (pid 4711, unit)"
    EXPECT_NE(text.find("created by " + creator), std::string::npos) << creator << "\n" << text;
    EXPECT_NE(html.find("<td>" + html_escape(creator) + "</td>"), std::string::npos) << creator;
  }
  EXPECT_NE(text.find("): no\n"), std::string::npos) << text;
  EXPECT_NE(html.find("class=\"answer-no\">no<"), std::string::npos);

  // Headless Chromium renders the plots (read back from its DOM) and fetches nothing the blank
  // page does not (the browser's own update checks) — nothing at all for the report itself.
  std::string blank = (scratch_.path() / "blank.html").string();
  std::ofstream(blank) << "<!DOCTYPE html><title>blank</title>";
  std::string ignored;
  std::set<std::string> baseline = chromium_requests(
      "file://" + blank, (scratch_.path() / "blank-net.json").string(), "--dump-dom", ignored);
  std::string dom;
  std::string net_log = (scratch_.path() / "net.json").string();
  std::set<std::string> requested =
      chromium_requests("file://" + html_file, net_log, "--dump-dom", dom);
  for (const std::string& url : requested) {
    if (url.starts_with("file://")) continue;
    EXPECT_TRUE(baseline.contains(url)) << "the report made Chromium fetch " << url;
  }
  EXPECT_EQ(testing::read_text(net_log + ".stderr").find("CONSOLE"), std::string::npos)
      << testing::read_text(net_log + ".stderr");
  std::size_t plot = dom.find("<svg class=\"plot\" data-resource=\"arrays\"");
  ASSERT_NE(plot, std::string::npos) << dom.substr(0, 2000);
  std::string arrays_plot = dom.substr(plot, dom.find("</svg>", plot) - plot);
  EXPECT_NE(arrays_plot.find("class=\"series\" data-peak=\"10\""), std::string::npos);
  EXPECT_NE(arrays_plot.find("class=\"limit\" data-limit=\"10\""), std::string::npos);
  EXPECT_NE(arrays_plot.find("class=\"band warning\""), std::string::npos);
  EXPECT_NE(arrays_plot.find("class=\"band critical\""), std::string::npos);
  EXPECT_NE(arrays_plot.find("data-total=\"3\""), std::string::npos);

  // A screenshot for people (CI keeps it as an artefact when IPCTRAIL_ARTEFACTS names a folder).
  const char* artefacts = std::getenv("IPCTRAIL_ARTEFACTS");
  std::string shot =
      (artefacts ? std::string(artefacts) : scratch_.path().string()) + "/report-incident.png";
  testing::run_shell(
      "timeout -s KILL 120 chromium --headless --no-sandbox --disable-gpu "
      "--window-size=1000,2400 --screenshot=" +
      shot + " file://" + html_file + " >/dev/null 2>&1");
  EXPECT_TRUE(std::filesystem::file_size(shot) > 0) << shot;
}

}  // namespace
}  // namespace ipctrail
