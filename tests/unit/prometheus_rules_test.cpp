// packaging/prometheus/ipctrail-rules.yml, the Prometheus rules equal to the built-in alerts:
// promtool accepts the file and passes its unit tests, every built-in alert has its rule with the
// built-in thresholds, every metric a rule reads is one ipctrail exports, and every alert is tested
// both firing and quiet. Fails, never skips, without promtool (Debian's `prometheus` package).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "agent/alerts/alert_rules.h"
#include "agent/alerts/alerts.h"
#include "model/chart_table.h"
#include "model/settings.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

const std::filesystem::path kRulesFolder =
    std::filesystem::path(IPCTRAIL_SOURCE_DIR) / "packaging" / "prometheus";
const std::filesystem::path kRules = kRulesFolder / "ipctrail-rules.yml";
const std::filesystem::path kRulesTest = kRulesFolder / "ipctrail-rules.test.yml";

struct AlertingRule {
  std::string expr;
  std::string severity;
};

// Alert name -> its rules (one per severity), and every rule's expression.
struct RulesFile {
  std::multimap<std::string, AlertingRule> alerts;
  std::vector<std::string> expressions;
};

RulesFile load_rules() {
  RulesFile file;
  for (const YAML::Node& group : YAML::LoadFile(kRules.string())["groups"]) {
    for (const YAML::Node& rule : group["rules"]) {
      file.expressions.push_back(rule["expr"].as<std::string>());
      if (!rule["alert"]) continue;
      file.alerts.emplace(rule["alert"].as<std::string>(),
                          AlertingRule{rule["expr"].as<std::string>(),
                                       rule["labels"]["severity"].as<std::string>()});
    }
  }
  return file;
}

// Whether `expr` compares with `> threshold` (and not a longer number that starts the same).
bool compares_above(const std::string& expr, double threshold) {
  return std::regex_search(expr, std::regex(fmt::format(R"(> {}(?![0-9.]))", threshold)));
}

TEST(PrometheusRules, PromtoolChecksTheRulesAndPassesTheirUnitTests) {
  testing::CommandResult check =
      testing::run_shell(fmt::format("promtool check rules '{}'", kRules.string()));
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_NE(check.output.find("SUCCESS"), std::string::npos) << check.output;
  testing::CommandResult test =
      testing::run_shell(fmt::format("cd '{}' && promtool test rules '{}'", kRulesFolder.string(),
                                     kRulesTest.filename().string()));
  EXPECT_EQ(test.exit_code, 0) << test.output;
  EXPECT_NE(test.output.find("SUCCESS"), std::string::npos) << test.output;
}

// Every alert the agent has, by name, has its rules.
TEST(PrometheusRules, EveryBuiltInAlertHasARule) {
  RulesFile rules = load_rules();
  for (std::string_view name : kAlertNames) {
    EXPECT_TRUE(rules.alerts.count(std::string(name))) << name << " has no rule";
  }
  auto leak = rules.alerts.equal_range(std::string(kLeakAlertName));
  ASSERT_NE(leak.first, leak.second) << kLeakAlertName;
  EXPECT_EQ(leak.first->second.severity, "warning");
}

// The usage alerts (agent/alerts/alert_rules.h): a critical and a warning rule each, with the
// built-in thresholds (Netdata's): raised above crit / warn, held above crit_clear / warn_clear.
TEST(PrometheusRules, UsageAlertsHaveTheBuiltInThresholds) {
  RulesFile rules = load_rules();
  const AlertConfig defaults;
  for (const AlertRule& usage : alert_rules()) {
    auto [first, last] = rules.alerts.equal_range(std::string(usage.name));
    std::map<std::string, std::string> by_severity;
    for (auto it = first; it != last; ++it) by_severity[it->second.severity] = it->second.expr;
    ASSERT_EQ(by_severity.size(), 2u) << usage.name << " needs a warning and a critical rule";
    const std::string& critical = by_severity["critical"];
    const std::string& warning = by_severity["warning"];
    EXPECT_TRUE(compares_above(critical, *defaults.crit)) << critical;
    EXPECT_TRUE(compares_above(critical, *defaults.crit_clear)) << critical;
    EXPECT_TRUE(compares_above(warning, defaults.warn)) << warning;
    EXPECT_TRUE(compares_above(warning, defaults.warn_clear)) << warning;
  }
}

TEST(PrometheusRules, RulesReadOnlyMetricsIpctrailExports) {
  std::set<std::string> exported;
  for (const MetricSpec* metric : kMetrics) exported.emplace(metric->name);
  const std::regex metric_name(R"(\bipctrail_[a-z_]+\b)");
  std::size_t read = 0;
  for (const std::string& expr : load_rules().expressions) {
    for (std::sregex_iterator it(expr.begin(), expr.end(), metric_name), end; it != end; ++it) {
      EXPECT_TRUE(exported.count(it->str())) << it->str() << " in " << expr;
      ++read;
    }
  }
  EXPECT_GT(read, 30u);
}

// promtool compares the whole list of firing alerts of a name at a time, so an empty list is a
// test that it stays quiet.
TEST(PrometheusRules, EveryAlertIsTestedFiringAndQuiet) {
  std::map<std::string, std::pair<bool, bool>> tested;  // name -> (fires, stays quiet)
  for (const YAML::Node& test : YAML::LoadFile(kRulesTest.string())["tests"]) {
    for (const YAML::Node& check : test["alert_rule_test"]) {
      auto& [fires, quiet] = tested[check["alertname"].as<std::string>()];
      (check["exp_alerts"].size() > 0 ? fires : quiet) = true;
    }
  }
  RulesFile rules = load_rules();
  for (const auto& [name, rule] : rules.alerts) {
    EXPECT_TRUE(tested[name].first) << name << " is never tested firing";
    EXPECT_TRUE(tested[name].second) << name << " is never tested quiet";
  }
}

}  // namespace
}  // namespace ipctrail
