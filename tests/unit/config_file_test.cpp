// The YAML config: the shipped file, good files, bad files through the real binary, and the
// precedence flags > file > defaults.
#include "config/config_file.h"

#include <fmt/format.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "tests/support/ipc_namespace.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ipctrail-config-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

void collect_leaves(const YAML::Node& node, const std::string& prefix,
                    std::vector<std::string>& leaves) {
  if (!node.IsMap()) {
    leaves.push_back(prefix);
    return;
  }
  for (const auto& entry : node) {
    std::string key = entry.first.Scalar();
    collect_leaves(entry.second, prefix.empty() ? key : prefix + "." + key, leaves);
  }
}

TEST(ShippedConfig, ParsesToExactlyTheBuiltInDefaults) {
  Config shipped = load_config_file(IPCTRAIL_SHIPPED_CONFIG);
  EXPECT_TRUE(shipped == Config{});
}

TEST(ShippedConfig, StatesEveryKeyInOrder) {
  std::vector<std::string> leaves;
  collect_leaves(YAML::LoadFile(IPCTRAIL_SHIPPED_CONFIG), "", leaves);
  EXPECT_EQ(leaves, config_key_paths());
}

TEST(ShippedConfig, CheckConfigSaysOk) {
  auto result = testing::run_ipctrail(std::string("check-config ") + IPCTRAIL_SHIPPED_CONFIG);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("OK: "), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("interval  1s"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("/var/lib/ipctrail/history.db (retention 30d, max size 1GiB)"),
            std::string::npos)
      << result.output;
}

TEST(BuiltInDefaults, AreTheReferenceOnes) {
  Config config;
  EXPECT_EQ(config.interval, seconds(1));
  EXPECT_EQ(config.alerts.size(), kAlertNames.size());
  for (const auto& [name, alert] : config.alerts) {
    EXPECT_TRUE(alert.enabled) << name;
    EXPECT_EQ(alert.every, seconds(10)) << name;
    // Netdata 1.37.1's health.d/ipc.conf, for all six.
    EXPECT_EQ(alert.warn, 80) << name;
    EXPECT_EQ(alert.warn_clear, 70) << name;
    EXPECT_EQ(alert.crit, 90) << name;
    EXPECT_EQ(alert.crit_clear, 70) << name;
    EXPECT_EQ(alert.delay.up, seconds(0)) << name;
    EXPECT_EQ(alert.delay.down, minutes(5)) << name;
    EXPECT_EQ(alert.delay.multiplier, 1.5) << name;
    EXPECT_EQ(alert.delay.max, hours(1)) << name;
  }
}

TEST(BuiltInDefaults, FailureAndForecastAlerts) {
  Config config;
  const AlertConfig& failures = config.alerts.at("ipc_call_failures");
  EXPECT_EQ(failures.window, minutes(1));
  std::vector<std::string> critical, warning;
  for (const CallFailure& failure : failures.critical_failures) {
    critical.push_back(call_failure_name(failure));
  }
  for (const CallFailure& failure : failures.warning_failures) {
    warning.push_back(call_failure_name(failure));
  }
  EXPECT_EQ(critical,
            (std::vector<std::string>{"semget_ENOSPC", "semget_ENOMEM", "msgget_ENOSPC",
                                      "msgget_ENOMEM", "shmget_ENOSPC", "shmget_ENOMEM"}));
  EXPECT_EQ(warning, std::vector<std::string>{"msgsnd_EAGAIN"});
  for (std::string_view name :
       {"semaphores_exhaustion", "semaphore_arrays_exhaustion", "message_queues_exhaustion",
        "shared_memory_segments_exhaustion", "shared_memory_pages_exhaustion"}) {
    const AlertConfig& forecast = config.alerts.at(std::string(name));
    EXPECT_EQ(alert_kind(name), AlertKind::kForecast);
    EXPECT_EQ(forecast.window, minutes(10)) << name;
    EXPECT_EQ(forecast.warn_within, hours(1)) << name;
    EXPECT_EQ(forecast.crit_within, minutes(10)) << name;
  }
}

TEST(ParseConfig, FailureAndForecastKeysRoundTrip) {
  Config config = parse_config(
      "alerts:\n"
      "  ipc_call_failures:\n"
      "    every: 1s\n"
      "    window: 30s\n"
      "    critical: [semget_ENOSPC, shmget_other]\n"
      "    warning: [msgsnd_EAGAIN, semop_EIDRM]\n"
      "    delay:\n"
      "      down: 1m\n"
      "  semaphore_arrays_exhaustion:\n"
      "    enabled: false\n"
      "    window: 2m\n"
      "    warn_within: 30m\n"
      "    crit_within: 0\n"
      "  shared_memory_pages_exhaustion:\n"
      "    window: 1h\n",
      "new.yaml");
  Config expected;
  AlertConfig& failures = expected.alerts.at("ipc_call_failures");
  failures.every = seconds(1);
  failures.window = seconds(30);
  failures.critical_failures = {{IpcCall::kSemget, ErrnoClass::kENOSPC},
                                {IpcCall::kShmget, ErrnoClass::kOther}};
  failures.warning_failures = {{IpcCall::kMsgsnd, ErrnoClass::kEAGAIN},
                               {IpcCall::kSemop, ErrnoClass::kEIDRM}};
  failures.delay.down = minutes(1);
  AlertConfig& arrays = expected.alerts.at("semaphore_arrays_exhaustion");
  arrays.enabled = false;
  arrays.window = minutes(2);
  arrays.warn_within = minutes(30);
  arrays.crit_within = seconds(0);
  expected.alerts.at("shared_memory_pages_exhaustion").window = hours(1);
  EXPECT_TRUE(config == expected);
  // Empty lists switch a severity off.
  Config quiet = parse_config("alerts:\n  ipc_call_failures:\n    warning: []\n", "quiet.yaml");
  EXPECT_TRUE(quiet.alerts.at("ipc_call_failures").warning_failures.empty());
}

TEST(ParseConfig, CritOffAloneSwitchesCriticalOff) {
  Config config = parse_config("alerts:\n  semaphores_used:\n    crit: off\n", "off.yaml");
  EXPECT_EQ(config.alerts.at("semaphores_used").crit, std::nullopt);
  EXPECT_EQ(config.alerts.at("semaphores_used").crit_clear, std::nullopt);
}

TEST(ParseConfig, ADelayBlock) {
  Config config = parse_config(
      "alerts:\n  semaphores_used:\n    delay: {up: 10s, down: 15m, multiplier: 2, max: 2h}\n",
      "delay.yaml");
  NotifyDelay expected{.up = seconds(10), .down = minutes(15), .multiplier = 2, .max = hours(2)};
  EXPECT_TRUE(config.alerts.at("semaphores_used").delay == expected);
  EXPECT_TRUE(config.alerts.at("semaphore_arrays_used").delay == NotifyDelay{});
}

TEST(ParseConfig, EmptyAndCommentOnlyFilesAreTheDefaults) {
  EXPECT_TRUE(parse_config("", "empty.yaml") == Config{});
  EXPECT_TRUE(parse_config("# nothing set\n", "comments.yaml") == Config{});
  EXPECT_TRUE(parse_config("database:\nalerts:\n", "sections.yaml") == Config{});
}

TEST(ParseConfig, AGoodFileParsesExactly) {
  Config config = parse_config(R"(
interval: 250ms
database:
  path: /srv/ipc/history.db
  retention: 7d
  max_size: 512MiB
collect:
  shared_memory: false
bpf:
  enabled: false
  mode: fentry
alerts:
  semaphore_arrays_used:
    every: 1m
    warn: 60
    warn_clear: 50.5
    crit: 90
    crit_clear: 85
  message_queue_bytes_used:
    enabled: false
notify:
  exec: [/bin/true, --team, dba]
  timeout: 3s
)",
                               "good.yaml");
  Config expected;
  expected.interval = milliseconds(250);
  expected.database.path = "/srv/ipc/history.db";
  expected.database.retention = hours(24 * 7);
  expected.database.max_size = 512u << 20;
  expected.collect.shared_memory = false;
  expected.bpf.enabled = BpfEnabled::kOff;
  expected.bpf.mode = BpfMode::kFentry;
  AlertConfig& arrays = expected.alerts.at("semaphore_arrays_used");
  arrays.every = minutes(1);
  arrays.warn = 60;
  arrays.warn_clear = 50.5;
  arrays.crit = 90;
  arrays.crit_clear = 85;
  expected.alerts.at("message_queue_bytes_used").enabled = false;
  expected.notify.exec = {"/bin/true", "--team", "dba"};
  expected.notify.timeout = seconds(3);
  EXPECT_TRUE(config == expected);
}

TEST(ParseConfig, PlainNumbersAndOtherSpellings) {
  Config config = parse_config(
      "interval: 2\ndatabase:\n  max_size: 1048576\nbpf:\n  enabled: auto\nnotify:\n  exec: "
      "/usr/bin/logger\n",
      "spellings.yaml");
  EXPECT_EQ(config.interval, seconds(2));
  EXPECT_EQ(config.database.max_size, 1048576u);
  EXPECT_EQ(config.bpf.enabled, BpfEnabled::kAuto);
  EXPECT_EQ(config.notify.exec, std::vector<std::string>{"/usr/bin/logger"});
  EXPECT_EQ(parse_config("bpf:\n  enabled: true\n", "b.yaml").bpf.enabled, BpfEnabled::kOn);
  EXPECT_EQ(parse_config("interval: 100ms\n", "i.yaml").interval, milliseconds(100));
  EXPECT_EQ(parse_config("interval: 1h\n", "i.yaml").interval, hours(1));
}

TEST_F(ConfigFile, FlagsOverrideTheFileWhichOverridesTheDefaults) {
  std::string path = write("agent.yaml", "interval: 5s\ndatabase:\n  retention: 2d\n");
  Config from_file = resolve_config(path, {});
  EXPECT_EQ(from_file.interval, seconds(5));
  EXPECT_EQ(from_file.database.retention, hours(48));
  EXPECT_EQ(from_file.database.path, Config{}.database.path);

  Config with_flags = resolve_config(path, {.interval = "200ms", .database_path = "/tmp/x.db"});
  EXPECT_EQ(with_flags.interval, milliseconds(200));
  EXPECT_EQ(with_flags.database.path, "/tmp/x.db");
  EXPECT_EQ(with_flags.database.retention, hours(48));

  Config defaults_only = resolve_config(std::nullopt, {.interval = "3"});
  EXPECT_EQ(defaults_only.interval, seconds(3));
  EXPECT_EQ(defaults_only.database.retention, Config{}.database.retention);
}

TEST(ConfigOverrides, BadFlagsNameTheFlag) {
  Config config;
  try {
    apply_overrides(config, {.interval = "fast"});
    FAIL() << "accepted --interval fast";
  } catch (const ConfigError& error) {
    EXPECT_STREQ(error.what(),
                 "--interval: expected a duration such as 100ms, 10s, 5m, 1h or 30d (a plain "
                 "number is seconds), got 'fast'");
  }
  try {
    apply_overrides(config, {.interval = "50ms"});
    FAIL() << "accepted --interval 50ms";
  } catch (const ConfigError& error) {
    EXPECT_STREQ(error.what(), "--interval: expected a duration from 100ms to 1h, got '50ms'");
  }
  for (const char* text : {"1ms", "99ms", "9223372036854775807ms", "106751991167d", "61m"}) {
    try {
      apply_overrides(config, {.interval = text});
      FAIL() << "accepted --interval " << text;
    } catch (const ConfigError& error) {
      EXPECT_EQ(error.what(), fmt::format("--interval: expected a duration from 100ms to 1h, got "
                                          "'{}'",
                                          text));
    }
  }
  EXPECT_THROW(apply_overrides(config, {.database_path = ""}), ConfigError);
  EXPECT_EQ(config.interval, seconds(1));
}

struct BadConfig {
  const char* name;
  const char* text;
  const char* error;  // the whole message after "<file>:"
};

// Each bad file through the real binary: the one specific message, and exit code 2.
const BadConfig kBadConfigs[] = {
    {"wrong_type_bool", "collect:\n  semaphores: maybe\n",
     "2:15: collect.semaphores: expected true or false, got 'maybe'"},
    {"wrong_type_section", "database: /var/lib/x.db\n",
     "1:11: database: expected a mapping of settings under this key, got '/var/lib/x.db'"},
    {"wrong_type_list", "alerts:\n  semaphores_used:\n    warn: [80, 90]\n",
     "3:11: alerts.semaphores_used.warn: expected a number from 0 to 100 (percent), got a list"},
    {"unknown_key", "alerts:\n  semaphores_used:\n    warn_clr: 60\n",
     "3:5: alerts.semaphores_used.warn_clr: unknown key; did you mean 'warn_clear'?"},
    {"unknown_alert", "alerts:\n  semaphore_array_used:\n    warn: 90\n",
     "2:3: alerts.semaphore_array_used: unknown key; did you mean 'semaphore_arrays_used'?"},
    {"unknown_top_key", "intervall: 1s\n", "1:1: intervall: unknown key; did you mean 'interval'?"},
    {"unknown_far_key", "database:\n  colour: blue\n",
     "2:3: database.colour: unknown key; expected one of path, retention or max_size"},
    {"duplicate_key", "interval: 1s\ninterval: 2s\n", "2:1: interval: this key appears twice"},
    {"bad_duration", "database:\n  retention: 30 days\n",
     "2:14: database.retention: expected a duration such as 100ms, 10s, 5m, 1h or 30d (a plain "
     "number is seconds), got '30 days'"},
    {"bad_every", "alerts:\n  message_queues_used:\n    every: soon\n",
     "3:12: alerts.message_queues_used.every: expected a duration such as 100ms, 10s, 5m, 1h or "
     "30d (a plain number is seconds), got 'soon'"},
    {"negative_size", "database:\n  max_size: -1GiB\n",
     "2:13: database.max_size: a size cannot be negative; expected a size such as 1GiB, got "
     "'-1GiB'"},
    {"bad_size", "database:\n  max_size: lots\n",
     "2:13: database.max_size: expected a size such as 1GiB, 512MiB, 1GB or a number of bytes, "
     "got 'lots'"},
    {"warn_below_warn_clear", "alerts:\n  semaphores_used:\n    warn: 60\n    warn_clear: 70\n",
     "3:5: alerts.semaphores_used.warn: warn (60) must be >= warn_clear (70): an alert raised "
     "above warn clears at or below warn_clear"},
    {"warn_below_default_clear", "alerts:\n  shared_memory_bytes_used:\n    warn: 65\n",
     "3:5: alerts.shared_memory_bytes_used.warn: warn (65) must be >= warn_clear (70): an alert "
     "raised above warn clears at or below warn_clear"},
    {"crit_below_crit_clear", "alerts:\n  semaphores_used:\n    crit: 90\n    crit_clear: 95\n",
     "3:5: alerts.semaphores_used.crit: crit (90) must be >= crit_clear (95)"},
    {"crit_clear_without_crit", "alerts:\n  semaphores_used:\n    crit: off\n    crit_clear: 60\n",
     "4:5: alerts.semaphores_used.crit_clear: crit_clear is set but crit is off; set crit as "
     "well, or remove crit_clear"},
    {"crit_below_default_clear",
     "alerts:\n  semaphores_used:\n    warn: 50\n    warn_clear: 40\n    crit: 60\n",
     "5:5: alerts.semaphores_used.crit: crit (60) must be >= crit_clear (70)"},
    {"delay_multiplier_below_one",
     "alerts:\n  semaphores_used:\n    delay:\n      multiplier: 0.5\n",
     "4:19: alerts.semaphores_used.delay.multiplier: expected a number from 1 to 100, got '0.5'"},
    {"delay_down_above_max", "alerts:\n  semaphores_used:\n    delay:\n      down: 2h\n",
     "4:7: alerts.semaphores_used.delay.down: delay.max (1h) must be >= delay.down (2h): max caps "
     "the multiplied delays"},
    {"delay_unknown_key", "alerts:\n  semaphores_used:\n    delay:\n      dwon: 5m\n",
     "4:7: alerts.semaphores_used.delay.dwon: unknown key; did you mean 'down'?"},
    {"percent_out_of_range", "alerts:\n  semaphores_used:\n    warn: 180\n",
     "3:11: alerts.semaphores_used.warn: expected a number from 0 to 100 (percent), got '180'"},
    {"crit_not_a_number", "alerts:\n  semaphores_used:\n    crit: never\n",
     "3:11: alerts.semaphores_used.crit: expected off or a number from 0 to 100 (percent), got "
     "'never'"},
    {"interval_too_short", "interval: 10ms\n",
     "1:11: interval: expected a duration from 100ms to 1h, got '10ms'"},
    {"interval_too_long", "interval: 2h\n",
     "1:11: interval: expected a duration from 100ms to 1h, got '2h'"},
    {"interval_empty", "interval:\n", "1:1: interval: expected a duration such as 100ms"},
    {"bpf_enabled", "bpf:\n  enabled: sometimes\n",
     "2:12: bpf.enabled: expected auto, true or false, got 'sometimes'"},
    {"bpf_mode_typo", "bpf:\n  mode: fentyr\n",
     "2:9: bpf.mode: expected auto, tracepoint, fentry or kprobe, got 'fentyr'; did you mean "
     "'fentry'?"},
    {"exec_relative", "notify:\n  exec: page-oncall\n",
     "2:9: notify.exec: expected off, an absolute program path, or a list [/path/program, "
     "argument, ...]; 'page-oncall' is not an absolute path (no PATH search is done)"},
    {"exec_with_spaces", "notify:\n  exec: /usr/bin/page --team dba\n",
     "2:9: notify.exec: no shell runs this program, so '/usr/bin/page --team dba' would be one "
     "file name; write the program and its arguments as a list: [/path/program, argument, ...]"},
    {"top_level_list", "- interval: 1s\n",
     "1:1: expected a mapping of settings (key: value lines), got a list"},
    {"top_level_text", "just some words\n",
     "1:1: expected a mapping of settings (key: value lines), got 'just some words'"},
    {"not_yaml", "interval: [1s\ndatabase: {path: \n",
     "2:9: not valid YAML: end of sequence flow not found"},
    {"not_yaml_tabs", "alerts:\n\tsemaphores_used: {}\n",
     "2:17: not valid YAML: illegal map value"},
    {"two_documents", "interval: 1s\n---\ninterval: 2s\n",
     "3:1: holds 2 YAML documents; expected one"},
    // yaml-cpp 0.7 ends a quoted text at the end of the file when a line break precedes it, so
    // the quote silently swallowed the rest of the file.
    {"unterminated_double_quote", "database:\n  path: \"/x/history.db\ninterval: 1s\n",
     "3:13: not valid YAML: the file ends inside a quoted text (a closing quote is missing)"},
    {"unterminated_single_quote", "interval: '1s\n",
     "1:14: not valid YAML: the file ends inside a quoted text (a closing quote is missing)"},
    {"unterminated_quote_ending_in_backslash", "database:\n  path: \"/x/a\\\n",
     "2:16: not valid YAML: the file ends inside a quoted text (a closing quote is missing)"},
    {"control_character_in_message", "database:\n  path: \"/x/a\\\x01\"\n",
     "2:16: not valid YAML: unknown escape character: \\x01"},
    {"nul_escape", "database:\n  path: \"/x/a\\0b.db\"\n",
     "2:9: database.path: holds a NUL character (\\0), which would cut the text short"},
    {"nul_escape_in_list", "notify:\n  exec: [/bin/true, \"a\\0b\"]\n",
     "2:9: notify.exec: holds a NUL character (\\0), which would cut the text short"},
    {"nul_escape_in_key", "database:\n  \"pa\\0th\": /x.db\n",
     "2:3: database: a key holds a NUL character (\\0)"},
    {"alias", "notify:\n  exec: [&program /bin/true, *program]\n",
     "2:30: YAML aliases (*name) are not accepted in a config file; write the value out"},
    {"too_deep", "notify:\n  exec: [[[[[[[[[[[[[[[[[x]]]]]]]]]]]]]]]]]\n",
     "2:23: nested more than 16 levels deep; a config file has at most 4"},
    {"warn_above_crit", "alerts:\n  semaphores_used:\n    warn: 90\n    crit: 50\n",
     "3:5: alerts.semaphores_used.warn: warn (90) must be <= crit (50): above crit the alert is "
     "CRITICAL, so it would never rise to WARNING"},
    {"warn_above_crit_other_order",
     "alerts:\n  message_queues_used:\n    crit: 75\n    warn_clear: 60\n",
     "3:5: alerts.message_queues_used.crit: warn (80) must be <= crit (75): above crit the alert "
     "is CRITICAL, so it would never rise to WARNING"},
    {"exec_missing", "notify:\n  exec: /nonexistent/ipctrail-page\n",
     "2:9: notify.exec: cannot run /nonexistent/ipctrail-page: No such file or directory"},
    {"exec_not_executable", "notify:\n  exec: [/etc/passwd, --now]\n",
     "2:9: notify.exec: cannot run /etc/passwd: Permission denied"},
    {"exec_directory", "notify:\n  exec: /tmp\n",
     "2:9: notify.exec: cannot run /tmp: Is a directory"},
    {"failure_typo", "alerts:\n  ipc_call_failures:\n    critical: [semget_ENOSCP]\n",
     "3:15: alerts.ipc_call_failures.critical: unknown failure 'semget_ENOSCP'; did you mean "
     "'semget_ENOSPC'?"},
    {"failure_unknown", "alerts:\n  ipc_call_failures:\n    critical: [fork_EAGAIN]\n",
     "3:15: alerts.ipc_call_failures.critical: unknown failure 'fork_EAGAIN'; expected a list of "
     "failures named call_ERRNO such as [semget_ENOSPC, msgsnd_EAGAIN]"},
    {"failures_not_a_list", "alerts:\n  ipc_call_failures:\n    warning: msgsnd_EAGAIN\n",
     "3:14: alerts.ipc_call_failures.warning: expected a list of failures named call_ERRNO such as "
     "[semget_ENOSPC, msgsnd_EAGAIN], got 'msgsnd_EAGAIN'"},
    {"failure_twice",
     "alerts:\n  ipc_call_failures:\n    critical: [semget_ENOSPC, semget_ENOSPC]\n",
     "3:15: alerts.ipc_call_failures.critical: 'semget_ENOSPC' is listed twice"},
    {"failure_in_both_lists", "alerts:\n  ipc_call_failures:\n    critical: [msgsnd_EAGAIN]\n",
     "3:5: alerts.ipc_call_failures.critical: 'msgsnd_EAGAIN' is listed in both critical and "
     "warning; list it in one"},
    {"failures_window_too_short", "alerts:\n  ipc_call_failures:\n    window: 100ms\n",
     "3:13: alerts.ipc_call_failures.window: expected a duration from 1s to 1d, got '100ms'"},
    {"failures_take_no_percent", "alerts:\n  ipc_call_failures:\n    crit: 90\n",
     "3:5: alerts.ipc_call_failures.crit: unknown key; expected one of enabled, every, window, "
     "critical, warning or delay"},
    {"forecast_warn_within_below_crit_within",
     "alerts:\n  semaphore_arrays_exhaustion:\n    warn_within: 5m\n",
     "3:5: alerts.semaphore_arrays_exhaustion.warn_within: warn_within (5m) must be >= crit_within "
     "(10m): a limit nearer than crit_within is CRITICAL, so it would never be WARNING"},
    {"forecast_bad_window", "alerts:\n  semaphores_exhaustion:\n    window: ten minutes\n",
     "3:13: alerts.semaphores_exhaustion.window: expected a duration such as 100ms, 10s, 5m, 1h or "
     "30d (a plain number is seconds), got 'ten minutes'"},
    {"forecast_within_too_long", "alerts:\n  semaphores_exhaustion:\n    warn_within: 60d\n",
     "3:18: alerts.semaphores_exhaustion.warn_within: expected a duration from 0ms to 30d, "
     "got '60d'"},
    {"forecast_takes_no_percent", "alerts:\n  semaphores_exhaustion:\n    warn_clear: 70\n",
     "3:5: alerts.semaphores_exhaustion.warn_clear: unknown key; expected one of enabled, every, "
     "window, warn_within, crit_within or delay"},
};

class BadConfigFile : public ConfigFile, public ::testing::WithParamInterface<BadConfig> {};

TEST_P(BadConfigFile, GivesItsSpecificErrorAndExitCode2) {
  const BadConfig& bad = GetParam();
  std::string path = write(std::string(bad.name) + ".yaml", bad.text);
  auto result = testing::run_ipctrail("check-config " + path);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  std::string expected = path + ":" + bad.error;
  EXPECT_EQ(result.output.substr(0, expected.size()), expected) << result.output;
  // "OK: <file>" is what a good file prints; a bare "OK" can be part of the random folder name.
  EXPECT_EQ(result.output.find("OK: "), std::string::npos) << result.output;
  EXPECT_THROW(load_config_file(path), ConfigError);
}

INSTANTIATE_TEST_SUITE_P(Table, BadConfigFile, ::testing::ValuesIn(kBadConfigs),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(ConfigFile, MissingFileIsAnError) {
  std::string path = (dir_ / "absent.yaml").string();
  auto result = testing::run_ipctrail("check-config " + path);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.output, "cannot read " + path + ": No such file or directory\n");
}

TEST_F(ConfigFile, DirectoryIsAnError) {
  auto result = testing::run_ipctrail("check-config " + dir_.string());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.output, "cannot read " + dir_.string() + ": Is a directory\n");
}

TEST_F(ConfigFile, PathThroughAFileIsAnError) {
  std::string path = write("plain.yaml", "interval: 1s\n") + "/nested.yaml";
  auto result = testing::run_ipctrail("check-config " + path);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.output, "cannot read " + path + ": Not a directory\n");
}

// Root reads any file whatever its mode, so the binary runs as nobody against a 0600 file.
TEST_F(ConfigFile, UnreadableFileIsAnError) {
  IPCTRAIL_REQUIRE_PRIVILEGE(::geteuid() == 0, "running as another user needs root");
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  std::string path = write("secret.yaml", "interval: 1s\n");
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  int output[2];
  ASSERT_EQ(::pipe(output), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::dup2(output[1], 1);
    ::dup2(output[1], 2);
    ::close(output[0]);
    constexpr uid_t kNobody = 65534;
    if (::setgroups(0, nullptr) != 0 || ::setresgid(kNobody, kNobody, kNobody) != 0 ||
        ::setresuid(kNobody, kNobody, kNobody) != 0) {
      ::_exit(99);
    }
    ::execl(IPCTRAIL_BINARY, "ipctrail", "check-config", path.c_str(), nullptr);
    ::_exit(98);
  }
  ::close(output[1]);
  std::string text;
  char buffer[4096];
  for (ssize_t got; (got = ::read(output[0], buffer, sizeof buffer)) > 0;) {
    text.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(output[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2) << text;
  EXPECT_EQ(text, "cannot read " + path + ": Permission denied\n");
}

// The pathological files go through the binary with its memory and time capped: before the
// fix each one took all the memory it could get (or hung), so a regression fails in seconds.
struct BoundedCase {
  std::string name;
  std::string text;
  std::string error;  // the whole message after "<file>:"
};

std::vector<BoundedCase> bounded_cases() {
  std::string big_anchor = "/" + std::string(400'000, 'x');
  std::string small_anchor = "/" + std::string(30'000, 'x');
  std::string many_aliases;
  for (int i = 0; i < 150'000; ++i) many_aliases += ",*a";
  std::string some_aliases;
  for (int i = 0; i < 8'000; ++i) some_aliases += ",*a";
  std::string many_values;
  for (int i = 0; i < 10'001; ++i) many_values += ",a";
  return {
      // yaml-cpp 0.7's LoadAll reads endless empty documents from a stray ','.
      {"comma", ",", "1:1: not valid YAML: unexpected ','"},
      {"newline_comma", "\n,", "2:1: not valid YAML: unexpected ','"},
      {"comma_after_document_end", "interval: 1s\n...\n,\n", "3:1: not valid YAML: unexpected ','"},
      // Under the old 1 MiB cap: a 400 KB text repeated 150,000 times, 60 GB.
      {"alias_bomb_large", "notify:\n  exec: [&a " + big_anchor + many_aliases + "]\n",
       " larger than 65536 bytes, not a config file"},
      // Under the new 64 KiB cap: 240 MB, refused at the first alias.
      {"alias_bomb_small", "notify:\n  exec: [&a " + small_anchor + some_aliases + "]\n",
       "2:30015: YAML aliases (*name) are not accepted in a config file; write the value out"},
      {"too_many_values", "notify:\n  exec: [/bin/true" + many_values + "]\n",
       "2:20008: more than 10000 values; a config file has about 100"},
      {"flow_list_as_document", "[" + many_values.substr(1) + "]",
       "1:20000: more than 10000 values; a config file has about 100"},
  };
}

TEST_F(ConfigFile, PathologicalYamlIsRefusedInBoundedMemoryAndTime) {
  for (const BoundedCase& bad : bounded_cases()) {
    std::string path = write(bad.name + ".yaml", bad.text);
    auto result = testing::run_ipctrail_bounded("check-config " + path, 256 << 20, 20);
    EXPECT_EQ(result.exit_code, 2) << bad.name << ": " << result.output.substr(0, 500);
    std::string expected = path + ":" + bad.error + "\n";
    if (bad.error.starts_with(' ')) expected = "cannot read " + path + ":" + bad.error + "\n";
    EXPECT_EQ(result.output, expected) << bad.name;
  }
}

TEST_F(ConfigFile, TheAgentRefusesAPathologicalConfigInBoundedMemoryAndTime) {
  std::string path = write("comma.yaml", ",");
  auto result = testing::run_ipctrail_bounded(
      "agent --ticks 1 --db " + (dir_ / "history.db").string() + " --config " + path, 256 << 20,
      20);
  EXPECT_EQ(result.exit_code, 2) << result.output.substr(0, 500);
  EXPECT_EQ(result.output, "ipctrail agent: " + path + ":1:1: not valid YAML: unexpected ','\n");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "history.db"));
}

TEST(ConfigFixtures, EachBadFixtureGivesItsErrorInBoundedMemoryAndTime) {
  const std::string dir = std::string(IPCTRAIL_FIXTURES) + "/config-bad/";
  const std::pair<const char*, const char*> fixtures[] = {
      {"comma.yaml", "1:1: not valid YAML: unexpected ','"},
      {"newline-comma.yaml", "2:1: not valid YAML: unexpected ','"},
      {"comma-after-document-end.yaml", "3:1: not valid YAML: unexpected ','"},
      {"nul-byte.yaml", "2:13: holds a NUL byte; a config file is text"},
      {"unterminated-quote.yaml",
       "3:13: not valid YAML: the file ends inside a quoted text (a closing quote is missing)"},
  };
  for (const auto& [name, error] : fixtures) {
    auto result = testing::run_ipctrail_bounded("check-config " + dir + name, 256 << 20, 20);
    EXPECT_EQ(result.exit_code, 2) << name << ": " << result.output.substr(0, 500);
    EXPECT_EQ(result.output, dir + name + ":" + error + "\n") << name;
  }
}

TEST_F(ConfigFile, AFileOverTheSizeCapIsRefusedBeforeParsing) {
  std::string comments;
  while (comments.size() <= 65536) comments += "# a long comment line, repeated\n";
  std::string path = write("big.yaml", comments);
  auto result = testing::run_ipctrail("check-config " + path);
  EXPECT_EQ(result.exit_code, 2) << result.output.substr(0, 500);
  EXPECT_EQ(result.output,
            "cannot read " + path + ": larger than 65536 bytes, not a config file\n");
  EXPECT_THROW(parse_config(comments, "big.yaml"), ConfigError);
  std::string at_the_cap = comments.substr(0, 65536 - 1) + "\n";
  EXPECT_TRUE(parse_config(at_the_cap, "at-the-cap.yaml") == Config{});
}

TEST_F(ConfigFile, AFifoIsRefusedWithoutHanging) {
  std::string path = (dir_ / "fifo.yaml").string();
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  auto result = testing::run_ipctrail_bounded("check-config " + path, 256 << 20, 10);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_EQ(result.output, "cannot read " + path + ": not a regular file (a FIFO)\n");
  auto agent = testing::run_ipctrail_bounded(
      "agent --ticks 1 --db " + (dir_ / "history.db").string() + " --config " + path, 256 << 20,
      10);
  EXPECT_EQ(agent.exit_code, 2) << agent.output;
  EXPECT_EQ(agent.output,
            "ipctrail agent: cannot read " + path + ": not a regular file (a FIFO)\n");
}

TEST_F(ConfigFile, ADeviceIsRefusedWithoutReadingIt) {
  auto result = testing::run_ipctrail_bounded("check-config /dev/zero", 256 << 20, 10);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_EQ(result.output, "cannot read /dev/zero: not a regular file (a character device)\n");
}

TEST_F(ConfigFile, ARawNulByteIsRefused) {
  std::string path = write("nul.yaml", std::string("database:\n  path: /x/a\0b.db\n", 29));
  auto result = testing::run_ipctrail("check-config " + path);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_EQ(result.output, path + ":2:13: holds a NUL byte; a config file is text\n");
}

TEST(ParseConfig, AnchorsWithoutAliasesAndQuotedTextAreFine) {
  Config config = parse_config(
      "database: &db\n  path: \"/srv/it's \\\"here\\\".db\"\n  retention: '7d'\n", "q.yaml");
  EXPECT_EQ(config.database.path, "/srv/it's \"here\".db");
  EXPECT_EQ(config.database.retention, hours(24 * 7));
  EXPECT_TRUE(parse_config("interval: \"1s\"\n\n\n", "q.yaml").interval == seconds(1));
  EXPECT_TRUE(parse_config("alerts:\n  semaphores_used:\n    warn: 90\n    crit: 90\n", "eq.yaml")
                  .alerts.at("semaphores_used")
                  .crit == 90);
}

TEST_F(ConfigFile, BinaryGarbageIsAnError) {
  std::string path = write("garbage.yaml", std::string("\x7f"
                                                       "ELF\x02\x01\x01\0\0\0{[",
                                                       12));
  auto result = testing::run_ipctrail("check-config " + path);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_EQ(result.output.rfind(path + ":", 0), 0u) << result.output;
}

}  // namespace
}  // namespace ipctrail

namespace ipctrail {
namespace {

TEST(ParseConfig, LeakRules) {
  Config config = parse_config(
      "leaks:\n  min_age: 90s\n  ignore_keys: [0x0000162e, 5678, 0xffffffff, -2]\n", "leaks.yaml");
  EXPECT_EQ(config.leaks.min_age, std::chrono::seconds(90));
  EXPECT_EQ(config.leaks.ignore_keys, (std::vector<std::int32_t>{0x162e, 5678, -1, -2}));
  EXPECT_EQ(Config{}.leaks.min_age, std::chrono::minutes(10));
  EXPECT_THROW(parse_config("leaks:\n  ignore_keys: [0x1ffffffff]\n", "k.yaml"), ConfigError);
  EXPECT_THROW(parse_config("leaks:\n  ignore_keys: 5678\n", "k.yaml"), ConfigError);
  EXPECT_THROW(parse_config("leaks:\n  ignore_keys: [key]\n", "k.yaml"), ConfigError);
  EXPECT_THROW(parse_config("leaks:\n  min_age: soon\n", "k.yaml"), ConfigError);
  EXPECT_TRUE(Config{}.leaks.enabled);
  EXPECT_FALSE(parse_config("leaks:\n  enabled: false\n", "k.yaml").leaks.enabled);
  EXPECT_THROW(parse_config("leaks:\n  enabled: sometimes\n", "k.yaml"), ConfigError);
}

TEST(ParseConfig, Namespaces) {
  EXPECT_EQ(Config{}.namespaces, NamespaceScope::kOwn);
  EXPECT_EQ(Config{}.namespaces_rescan, std::chrono::seconds(30));
  Config config = parse_config("namespaces: all\nnamespaces_rescan: 2m\n", "n.yaml");
  EXPECT_EQ(config.namespaces, NamespaceScope::kAll);
  EXPECT_EQ(config.namespaces_rescan, std::chrono::minutes(2));
  EXPECT_EQ(parse_config("namespaces: own\n", "n.yaml").namespaces, NamespaceScope::kOwn);
  try {
    parse_config("namespaces: al\n", "n.yaml");
    ADD_FAILURE() << "accepted 'al'";
  } catch (const ConfigError& error) {
    EXPECT_STREQ(error.what(),
                 "n.yaml:1:13: namespaces: expected own or all, got 'al'; did you mean 'all'?");
  }
  EXPECT_THROW(parse_config("namespaces_rescan: 100ms\n", "n.yaml"), ConfigError);
  EXPECT_THROW(parse_config("namespaces_rescan: 2h\n", "n.yaml"), ConfigError);
  auto shown = testing::run_ipctrail(std::string("check-config ") + IPCTRAIL_SHIPPED_CONFIG);
  EXPECT_NE(shown.output.find("namespaces own (rescan 30s)"), std::string::npos) << shown.output;
}

}  // namespace
}  // namespace ipctrail
