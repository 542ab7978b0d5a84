// The three layouts of `ipctrail report` over the scripted incident: the same facts in each, a
// versioned JSON contract, HTML that is self-contained and escapes what the file holds, and
// -o that writes whole files and never through a link.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "model/time_text.h"
#include "report/render.h"
#include "report/report.h"
#include "report/report_file.h"
#include "tests/support/incident_history.h"
#include "tests/support/prometheus_support.h"

namespace ipctrail {
namespace {

using testing::kIncidentStart;

constexpr std::int64_t at(std::int64_t second) {
  return kIncidentStart + second * 1000;
}

constexpr const char* kNoAttributionText = "per-process attribution: not recorded";

constexpr const char* kHostile =
    "<script>alert('x')</script><img src=http://evil.example/x.png> & \"quoted\"\x1b[2J";

// The report of the scripted incident's five minutes, written as `script` says.
class RenderedIncident : public ::testing::Test {
 protected:
  void analyse(const testing::IncidentOptions& script) {
    testing::write_incident_history(path_, script);
    HistoryReader reader(path_);
    report_ = analyse_history(reader, path_.string(), at(0), at(300));
  }

  testing::ScratchDirectory scratch_;
  std::filesystem::path path_ = scratch_.path() / "history.db";
  Report report_;
};

class ReportRender : public RenderedIncident {
 protected:
  void SetUp() override {
    testing::IncidentOptions script;
    script.hostile_summary = kHostile;
    analyse(script);
  }
};

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (std::size_t found = text.find(needle); found != std::string::npos;
       found = text.find(needle, found + 1)) {
    ++count;
  }
  return count;
}

TEST_F(ReportRender, TextJsonAndHtmlCarryTheSameFacts) {
  std::string text = render_text(report_);
  std::string json = render_json(report_);
  std::string html = render_html(report_);
  for (const std::string& fact :
       {iso8601_utc(at(70)), iso8601_utc(at(160)), iso8601_utc(at(161)), iso8601_utc(at(163)),
        iso8601_utc(at(120)), iso8601_utc(at(200)), iso8601_utc(at(220))}) {
    EXPECT_NE(text.find(fact), std::string::npos) << fact << "\n" << text;
    EXPECT_NE(json.find(fact), std::string::npos) << fact;
    EXPECT_NE(html.find(fact), std::string::npos) << fact;
  }
  EXPECT_NE(text.find("semget ENOSPC: 3 failures"), std::string::npos) << text;
  EXPECT_NE(text.find("lead 11.0s before the first semget_ENOSPC"), std::string::npos) << text;
  EXPECT_NE(html.find("11.0s before"), std::string::npos);
  EXPECT_NE(text.find("Still happening (from " + iso8601_utc(at(240)) + "): no"), std::string::npos)
      << text;
  EXPECT_NE(html.find("class=\"answer-no\">no<"), std::string::npos);
  for (const std::string* layout : {&text, &html}) {
    EXPECT_NE(layout->find("per-process attribution: not recorded in this file for this window: "
                           "BPF counted the calls but the agent kept no per-process records"),
              std::string::npos);
  }
}

TEST_F(ReportRender, JsonIsTheVersionedContract) {
  nlohmann::json root = nlohmann::json::parse(render_json(report_));
  EXPECT_EQ(root["report_version"], 1);
  EXPECT_EQ(root["window"]["since_ts"], at(0));
  EXPECT_EQ(root["coverage"]["gaps"].size(), 1u);
  nlohmann::json arrays;
  for (const nlohmann::json& resource : root["resources"]) {
    if (resource["id"] == "arrays") arrays = resource;
  }
  EXPECT_EQ(arrays["limit_name"], "semmni");
  EXPECT_EQ(arrays["limit"], 10);
  EXPECT_EQ(arrays["peak"], 10);
  EXPECT_EQ(arrays["limit_reached_ts"], at(160));
  EXPECT_EQ(arrays["growth_started_ts"], at(70));
  EXPECT_EQ(arrays["fastest_growth_per_minute"], 6);
  EXPECT_EQ(root["alert_transitions"][1]["new_status"], "WARNING");
  EXPECT_EQ(root["alert_transitions"][1]["lead_ms"], 11'000);
  EXPECT_EQ(root["alert_transitions"][1]["summary"], kHostile);
  EXPECT_EQ(root["failures"][0]["count"], 3);
  EXPECT_EQ(root["failures"][0]["first_ts"], at(161));
  EXPECT_EQ(root["per_process"]["recorded"], false);
  EXPECT_EQ(root["per_process"]["missing"], "not_kept");
  EXPECT_EQ(root["failures_by_process"].size(), 0u);
  EXPECT_EQ(root["still_happening"]["answer"], "no");
  EXPECT_EQ(root["fullest_queues"][0]["msqid"], "7");
}

TEST_F(ReportRender, HtmlIsSelfContainedAndEscapesTheFile) {
  std::string html = render_html(report_);
  for (const char* forbidden :
       {"<script", "<img", "<link", "<iframe", "<object", "<embed", "<meta http-equiv", "\x1b"}) {
    EXPECT_EQ(html.find(forbidden), std::string::npos) << forbidden;
  }
  // The hostile summary shows as text, escaped; with that text taken out, no URL is left at all.
  const std::string shown = html_escape(kHostile);
  EXPECT_NE(html.find(shown), std::string::npos);
  EXPECT_NE(shown.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), std::string::npos);
  std::string markup = html;
  for (std::size_t found = markup.find(shown); found != std::string::npos;
       found = markup.find(shown)) {
    markup.erase(found, shown.size());
  }
  for (const char* forbidden :
       {"src=", "href=", "url(", "@import", "http:", "https:", "//", "xlink", "<script"}) {
    EXPECT_EQ(markup.find(forbidden), std::string::npos) << forbidden;
  }
}

TEST_F(ReportRender, HtmlHasAPlotPerResourceWithLimitBandsAndFailureBars) {
  std::string html = render_html(report_);
  EXPECT_EQ(count_of(html, "<svg class=\"plot\""), report_.resources.size() + 1);
  std::size_t start = html.find("<svg class=\"plot\" data-resource=\"arrays\"");
  ASSERT_NE(start, std::string::npos);
  std::string arrays = html.substr(start, html.find("</svg>", start) - start);
  EXPECT_NE(arrays.find("<path class=\"limit\" data-limit=\"10\""), std::string::npos);
  EXPECT_NE(arrays.find("<path class=\"series\" data-peak=\"10\""), std::string::npos);
  EXPECT_NE(arrays.find("class=\"band warning\""), std::string::npos);
  EXPECT_NE(arrays.find("class=\"band critical\""), std::string::npos);
  EXPECT_NE(arrays.find("data-total=\"3\""), std::string::npos);
  EXPECT_EQ(count_of(arrays, "class=\"gap\""), 1u);
}

// A process's name is whatever bytes it put in its comm (prctl PR_SET_NAME): markup, quotes, a
// newline, an escape sequence, a byte that is not UTF-8. Each layout carries it safely.
constexpr const char* kHostileComm = "<script>\"'\n\x1b&\xff";

class ReportRenderProcesses : public RenderedIncident {
 protected:
  void SetUp() override {
    testing::IncidentOptions script;
    script.leaker_comm = kHostileComm;
    analyse(script);
  }
};

TEST_F(ReportRenderProcesses, TextJsonAndHtmlNameTheFailingProcessAndTheCreators) {
  std::string text = render_text(report_);
  std::string html = render_html(report_);
  nlohmann::json root = nlohmann::json::parse(render_json(report_));

  ASSERT_EQ(root["failures_by_process"].size(), 1u);
  const nlohmann::json& failing = root["failures_by_process"][0];
  EXPECT_EQ(failing["process"], "<script>\"'\n\x1b&\xef\xbf\xbd");  // the stray byte as U+FFFD
  EXPECT_EQ(failing["unit"], testing::kIncidentUnit);
  EXPECT_EQ(failing["pids"], (std::vector<int>{4721, 4722, 4723}));
  EXPECT_EQ(failing["call"], "semget");
  EXPECT_EQ(failing["errno"], "ENOSPC");
  EXPECT_EQ(failing["count"], 3);
  EXPECT_EQ(failing["first_ts"], at(161));
  EXPECT_EQ(failing["last_ts"], at(163));
  EXPECT_EQ(root["per_process"]["recorded"], true);
  EXPECT_EQ(root["per_process"]["missing"], nullptr);
  EXPECT_EQ(root["per_process"]["calls_not_attributed"], 2);
  EXPECT_EQ(root["per_process"]["events_lost"], 1);
  ASSERT_EQ(root["objects"]["by_process"].size(), 2u);
  EXPECT_EQ(root["objects"]["by_process"][0]["created"], 11);
  EXPECT_EQ(root["objects"]["by_process"][1]["process"], "ipcrm");
  EXPECT_EQ(root["objects"]["by_process"][1]["removed"], 1);
  ASSERT_EQ(root["leak_suspects"].size(), 10u);
  for (const nlohmann::json& suspect : root["leak_suspects"]) {
    EXPECT_EQ(suspect["creator"]["pid"], 4700 + suspect["id"].get<int>() - 100);
    EXPECT_EQ(suspect["creator"]["unit"], testing::kIncidentUnit);
  }

  // Text: control characters as '?', so the name cannot rewrite the terminal or add a line.
  const std::string shown_in_text = "<script>\"'??&\xff";
  EXPECT_NE(
      text.find("  " + shown_in_text + " (billing.service) semget ENOSPC: 3 failures, first " +
                iso8601_utc(at(161)) + ", last " + iso8601_utc(at(163)) +
                " (pids 4721, 4722, 4723)\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("calls not attributed to a process: 2"), std::string::npos) << text;
  EXPECT_NE(text.find("creations or removals lost: 1"), std::string::npos) << text;
  EXPECT_NE(text.find("sem ipcrm: 0 / 1 (pid 612)"), std::string::npos) << text;
  for (int id = 100; id < 110; ++id) {
    EXPECT_NE(text.find(fmt::format("sem {} key 0x00000000 created by {} (pid {}, billing.service)",
                                    id, shown_in_text, 4600 + id)),
              std::string::npos)
        << id << "\n"
        << text;
  }
  EXPECT_EQ(text.find('\x1b'), std::string::npos);

  // HTML: the name as text in its cells, never markup.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  const std::string shown_in_html = html_escape(kHostileComm);
  EXPECT_EQ(shown_in_html, "&lt;script&gt;&quot;&#39;\n\xef\xbf\xbd&amp;\xff");
  EXPECT_NE(html.find("<td>" + shown_in_html +
                      "</td><td>billing.service</td><td>4721, 4722, "
                      "4723</td><td>semget</td><td>ENOSPC</td><td>3</td>"),
            std::string::npos);
  EXPECT_NE(html.find("calls not attributed to a process: 2"), std::string::npos);
  for (int id = 100; id < 110; ++id) {
    EXPECT_NE(
        html.find(shown_in_html + " (pid " + std::to_string(4600 + id) + ", billing.service)"),
        std::string::npos)
        << id;
  }
  EXPECT_EQ(text.find(kNoAttributionText), std::string::npos);
  EXPECT_EQ(html.find(kNoAttributionText), std::string::npos);
}

TEST(ReportFile, WritesWholeAndReplacesARegularFile) {
  testing::ScratchDirectory scratch;
  std::filesystem::path out = scratch.path() / "report.html";
  std::ofstream(out) << "old";
  write_report_file(out, "new report\n");
  std::ifstream in(out);
  std::string content((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(content, "new report\n");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(scratch.path()), {}), 1)
      << "no temporary file is left";
}

TEST(ReportFile, RefusesALinkAFifoAndAFolderAndLeavesThemAlone) {
  testing::ScratchDirectory scratch;
  std::filesystem::path target = scratch.path() / "precious";
  std::ofstream(target) << "keep me";
  std::filesystem::path link = scratch.path() / "link.html";
  std::filesystem::create_symlink(target, link);
  EXPECT_THROW(write_report_file(link, "x"), ReportError);
  std::ifstream in(target);
  std::string content((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(content, "keep me");
  EXPECT_TRUE(std::filesystem::is_symlink(link));

  std::filesystem::path fifo = scratch.path() / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THROW(write_report_file(fifo, "x"), ReportError);  // would block if it were opened
  EXPECT_THROW(write_report_file(scratch.path(), "x"), ReportError);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(scratch.path()), {}), 3);
}

}  // namespace
}  // namespace ipctrail
