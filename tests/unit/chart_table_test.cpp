// The chart table (model/chart_table.h) is the one source: README.md's chart, metric and alert
// tables say exactly what it says, both ways (a row missing on either side fails), and the
// exposition, charts_of() and the alert rules follow it.
#include "model/chart_table.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "agent/alerts/alert_rules.h"
#include "export/prometheus.h"
#include "model/charts.h"
#include "model/settings.h"

namespace ipctrail {
namespace {

using Row = std::vector<std::string>;

std::string trim(std::string_view text) {
  std::size_t first = text.find_first_not_of(' ');
  std::size_t last = text.find_last_not_of(' ');
  return first == std::string_view::npos ? "" : std::string(text.substr(first, last - first + 1));
}

Row cells(const std::string& line) {
  Row row;
  std::size_t at = 1;  // after the leading '|'
  for (std::size_t bar = line.find('|', at); bar != std::string::npos;
       at = bar + 1, bar = line.find('|', at)) {
    row.push_back(trim(std::string_view(line).substr(at, bar - at)));
  }
  return row;
}

// The body rows of the README table whose header line is exactly `header`; fails when there is
// not exactly one such table.
std::vector<Row> readme_table(const std::string& header) {
  std::ifstream file(std::string(IPCTRAIL_SOURCE_DIR) + "/README.md");
  std::vector<Row> rows;
  int found = 0;
  bool inside = false;
  for (std::string line; std::getline(file, line);) {
    if (line == header) {
      ++found;
      inside = true;
      std::getline(file, line);  // |---|---|
      continue;
    }
    if (inside && line.starts_with('|')) {
      rows.push_back(cells(line));
    } else {
      inside = false;
    }
  }
  EXPECT_EQ(found, 1) << "README.md tables with the header " << header;
  return rows;
}

std::string code(std::string_view text) {
  return "`" + std::string(text) + "`";
}

// Every `quoted` word of a cell that starts with `prefix`.
std::vector<std::string> quoted(const std::string& cell, std::string_view prefix) {
  std::vector<std::string> words;
  for (std::size_t open = cell.find('`'); open != std::string::npos;) {
    std::size_t close = cell.find('`', open + 1);
    if (close == std::string::npos) break;
    std::string word = cell.substr(open + 1, close - open - 1);
    if (word.starts_with(prefix)) words.push_back(word);
    open = cell.find('`', close + 1);
  }
  return words;
}

std::string dimensions_text(const ChartSpec& spec) {
  return spec.dimension.empty() ? std::string(spec.dimensions) : code(spec.dimension);
}

TEST(ReadmeTables, WhatItReadsListsTheReferenceChartsInOrder) {
  std::vector<Row> rows = readme_table("| chart | dimension(s) | value | source |");
  ASSERT_EQ(rows.size(), kReferenceChartCount);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const ChartSpec& spec = *kChartTable[i];
    EXPECT_EQ(rows[i][0], code(spec.id)) << i;
    EXPECT_EQ(rows[i][1], dimensions_text(spec)) << spec.id;
  }
}

TEST(ReadmeTables, ChartsTableIsTheChartTable) {
  std::vector<Row> rows = readme_table(
      "| chart | units | dimension(s) | title | family | context | type | priority | Prometheus |");
  ASSERT_EQ(rows.size(), kChartTable.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const ChartSpec& spec = *kChartTable[i];
    const Row& row = rows[i];
    ASSERT_EQ(row.size(), 9u) << i;
    EXPECT_EQ(row[0], code(spec.id)) << i;
    EXPECT_EQ(row[1], spec.units) << spec.id;
    EXPECT_EQ(row[2], dimensions_text(spec)) << spec.id;
    EXPECT_EQ(row[3], spec.title) << spec.id;
    EXPECT_EQ(row[4], spec.family) << spec.id;
    EXPECT_EQ(row[5], code(spec.context)) << spec.id;
    EXPECT_EQ(row[6], chart_type_name(spec.type)) << spec.id;
    EXPECT_EQ(row[7], std::to_string(spec.priority)) << spec.id;
    std::vector<std::string> metrics;
    for (const MetricSpec* metric : spec.metrics) {
      if (metric) metrics.emplace_back(metric->name);
    }
    EXPECT_EQ(quoted(row[8], "ipctrail_"), metrics) << spec.id;
  }
}

TEST(ReadmeTables, PrometheusTableIsEveryMetricWithItsCharts) {
  std::vector<Row> rows = readme_table("| metric | type | labels | from |");
  std::vector<std::string> readme_names, table_names;
  for (const Row& row : rows) readme_names.push_back(row[0]);
  for (const MetricSpec* metric : kMetrics) table_names.push_back(code(metric->name));
  std::multiset<std::string> readme_set(readme_names.begin(), readme_names.end());
  std::multiset<std::string> table_set(table_names.begin(), table_names.end());
  ASSERT_EQ(readme_set, table_set);
  for (const Row& row : rows) {
    for (const MetricSpec* metric : kMetrics) {
      if (code(metric->name) != row[0]) continue;
      EXPECT_EQ(row[1], metric->type) << row[0];
      std::vector<std::string> charts;
      for (const ChartSpec* chart : charts_exporting(*metric)) charts.emplace_back(chart->id);
      EXPECT_EQ(quoted(row[3], "system."), charts) << row[0];
    }
  }
}

TEST(ReadmeTables, AlertsTableNamesEachAlertsChart) {
  std::vector<Row> rows = readme_table("| alert | on | value | default |");
  ASSERT_EQ(rows.size(), kAlertNames.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::string_view name = kAlertNames[i];
    std::string_view chart = chart::kCallErrors.id;
    if (alert_kind(name) == AlertKind::kUsage) chart = alert_rules()[i].chart;
    if (alert_kind(name) == AlertKind::kForecast) chart = forecast_resource(name).chart;
    EXPECT_EQ(rows[i][0], code(name));
    std::vector<std::string> charts = quoted(rows[i][1], "system.");
    ASSERT_EQ(charts.size(), 1u) << name;
    EXPECT_EQ(charts[0], chart) << name;
  }
}

TEST(ChartTable, EveryAlertRuleWatchesATableChart) {
  for (const AlertRule& rule : alert_rules()) {
    const ChartSpec* spec = find_chart(rule.chart);
    ASSERT_NE(spec, nullptr) << rule.name;
    EXPECT_EQ(spec->id, rule.chart);
  }
}

TEST(ChartTable, ChartsOfFollowsTheTable) {
  Sample sample;
  sample.semaphores = 1;
  sample.semaphore_arrays = 1;
  sample.queues.emplace();
  sample.shm_segments = 1;
  sample.shm_bytes = 1;
  IpcCallActivity calls;
  calls.since_previous.emplace();
  sample.ipc_calls = calls;
  std::vector<Chart> charts = charts_of(sample);
  ASSERT_EQ(charts.size(), kChartTable.size() - 1);  // all but the limits
  for (std::size_t i = 0; i < charts.size(); ++i) {
    EXPECT_EQ(charts[i].id, kChartTable[i]->id);
    EXPECT_EQ(charts[i].units, kChartTable[i]->units);
    if (!kChartTable[i]->dimension.empty()) {
      ASSERT_EQ(charts[i].dimensions.size(), 1u) << charts[i].id;
      EXPECT_EQ(charts[i].dimensions[0].name, kChartTable[i]->dimension);
    }
  }
}

TEST(ChartTable, ExpositionFamiliesAreTheMetricTableInOrder) {
  Sample sample;
  sample.semaphores = 1;
  sample.semaphore_arrays = 1;
  sample.queues.emplace(1);  // per-queue families appear with a queue
  sample.shm_segments = 1;
  sample.shm_bytes = 1;
  sample.shm_pages = 1;
  sample.leak_suspects.emplace();  // the agent's inventory: the leak gauge appears with it
  sample.limits.semmni = 1;
  IpcCallActivity calls;
  calls.totals.failures[0][0] = 1;
  calls.syscall_tax = SyscallTax{200, 210};  // measured whenever the programs attached
  sample.ipc_calls = calls;
  AlertStatusSeries alert{"semaphores_used", "system.ipc_semaphores", "", 1};
  std::string text = render_exposition({.sample = sample, .alerts = {&alert, 1}});
  std::vector<std::string> families;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("# TYPE ")) families.push_back(line.substr(7));
  }
  std::vector<std::string> expected;
  for (const MetricSpec* metric : kMetrics) {
    expected.push_back(std::string(metric->name) + " " + std::string(metric->type));
  }
  EXPECT_EQ(families, expected);
  EXPECT_NE(text.find("# HELP ipctrail_syscalls_total System V IPC system calls counted by the BPF "
                      "programs since they were attached. Charts system.ipc_semaphore_calls, "
                      "system.message_queue_calls, system.shared_memory_calls.\n"),
            std::string::npos)
      << text;
}

TEST(ChartTable, NetdatasNameForTheMessagesChartIsAnAlias) {
  EXPECT_EQ(canonical_chart_id("system.message_queue_messages"), "system.message_queue_message");
  EXPECT_EQ(canonical_chart_id("system.message_queue_message"), "system.message_queue_message");
  EXPECT_EQ(canonical_chart_id("system.nope"), "system.nope");
  EXPECT_EQ(find_chart("system.message_queue_messages"), &chart::kQueueMessages);
  EXPECT_EQ(find_chart("system.nope"), nullptr);
}

}  // namespace
}  // namespace ipctrail
