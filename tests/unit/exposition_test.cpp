// The text exposition and its label escaping, on synthetic samples; promtool is the judge of
// the format.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "export/prometheus.h"
#include "tests/support/prometheus_support.h"

namespace ipctrail {
namespace {

using testing::promtool_check_metrics;
using testing::series_value;
using testing::synthetic_sample;

TEST(LabelEscape, EscapesBackslashQuoteAndNewline) {
  EXPECT_EQ(escape_label_value(R"(C:\dir)"), R"(C:\\dir)");
  EXPECT_EQ(escape_label_value(R"(say "hi")"), R"(say \"hi\")");
  EXPECT_EQ(escape_label_value("two\nlines"), R"(two\nlines)");
  EXPECT_EQ(escape_label_value("\\\"\n"), R"(\\\"\n)");
  EXPECT_EQ(escape_label_value(""), "");
  // Only those three: a tab, a carriage return and braces are legal as they are.
  EXPECT_EQ(escape_label_value("a\tb\rc{}=,"), "a\tb\rc{}=,");
}

TEST(LabelEscape, KeepsValidUtf8) {
  std::string text =
      "Gr\xC3\xB6\xC3\x9F"
      "e \xE2\x9C\x93 \xF0\x9F\x98\x80 \xE4\xB8\xAD";
  EXPECT_EQ(escape_label_value(text), text);
  EXPECT_EQ(escape_label_value("\xF4\x8F\xBF\xBF"), "\xF4\x8F\xBF\xBF");  // U+10FFFF
}

TEST(LabelEscape, ReplacesInvalidUtf8) {
  const std::string replacement = "\xEF\xBF\xBD";
  EXPECT_EQ(escape_label_value("a\xFF"
                               "b"),
            "a" + replacement + "b");
  EXPECT_EQ(escape_label_value("\xC3"), replacement);                    // truncated
  EXPECT_EQ(escape_label_value("\xC0\xAF"), replacement + replacement);  // overlong '/'
  EXPECT_EQ(escape_label_value("\xED\xA0\x80"),
            replacement + replacement + replacement);                           // surrogate
  EXPECT_EQ(escape_label_value("\xF4\x90\x80\x80").substr(0, 3), replacement);  // > U+10FFFF
  EXPECT_EQ(escape_label_value("\xE2\x9C"), replacement + replacement);
}

// Family name -> (help lines, type lines, samples), and that every family is contiguous.
struct FamilyCount {
  int help = 0, type = 0, samples = 0;
};

std::map<std::string, FamilyCount> families_of(const std::string& exposition) {
  std::map<std::string, FamilyCount> families;
  std::set<std::string> finished;
  std::string current;
  std::istringstream lines(exposition);
  std::string line;
  while (std::getline(lines, line)) {
    std::string name;
    bool is_help = line.rfind("# HELP ", 0) == 0, is_type = line.rfind("# TYPE ", 0) == 0;
    if (is_help || is_type) {
      name = line.substr(7, line.find(' ', 7) - 7);
    } else {
      name = line.substr(0, line.find_first_of("{ "));
    }
    if (name != current) {
      EXPECT_FALSE(finished.contains(name)) << "family " << name << " is split";
      if (!current.empty()) finished.insert(current);
      current = name;
    }
    FamilyCount& family = families[name];
    family.help += is_help;
    family.type += is_type;
    family.samples += !is_help && !is_type;
  }
  return families;
}

TEST(Exposition, EveryFamilyOnceWithHelpAndType) {
  Sample sample = synthetic_sample(3);
  std::vector<AlertStatusSeries> alerts = {
      {"semaphores_used", "system.ipc_semaphores", "system.ipc_semaphores", 1},
      {"semaphore_arrays_used", "system.ipc_semaphore_arrays", "system.ipc_semaphore_arrays", 3}};
  IpcCallCounts totals;
  totals.calls_of(IpcCall::kSemget) = 10;
  totals.calls_of(IpcCall::kMsgsnd) = 7;
  totals.failures_of(IpcCall::kSemget, ErrnoClass::kENOSPC) = 2;
  totals.failures_of(IpcCall::kMsgsnd, ErrnoClass::kEAGAIN) = 5;
  sample.ipc_calls = IpcCallActivity{"tracepoint", totals, std::nullopt, SyscallTax{200, 250},
                                     IpcCallLosses{.recursion_misses = 3}};
  std::string text = render_exposition({.sample = sample, .alerts = alerts});

  std::map<std::string, FamilyCount> families = families_of(text);
  std::map<std::string, int> expected_samples = {
      {"ipctrail_up", 1},
      {"ipctrail_build_info", 1},
      {"ipctrail_last_sample_timestamp_seconds", 1},
      {"ipctrail_procfs_skipped_lines", 1},
      {"ipctrail_semaphores", 1},
      {"ipctrail_semaphore_arrays", 1},
      {"ipctrail_message_queues", 1},
      {"ipctrail_message_queue_messages", 3},
      {"ipctrail_message_queue_bytes", 3},
      {"ipctrail_shared_memory_segments", 1},
      {"ipctrail_shared_memory_bytes", 1},
      {"ipctrail_shared_memory_pages", 1},
      {"ipctrail_limit", 10},
      {"ipctrail_alert_status", 2},
      {"ipctrail_syscalls_total", 12},  // every call, counted or not
      {"ipctrail_syscall_errors_total", 2},
      {"ipctrail_bpf_syscall_tax_ratio", 1},
      {"ipctrail_bpf_calls_lost_total", 2},  // both reasons, also at 0
  };
  ASSERT_EQ(families.size(), expected_samples.size()) << text;
  for (const auto& [name, samples] : expected_samples) {
    EXPECT_EQ(families[name].help, 1) << name;
    EXPECT_EQ(families[name].type, 1) << name;
    EXPECT_EQ(families[name].samples, samples) << name;
  }
  EXPECT_NE(text.find("# TYPE ipctrail_syscalls_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE ipctrail_semaphores gauge\n"), std::string::npos);
  EXPECT_NE(text.find("\nipctrail_bpf_syscall_tax_ratio{mode=\"tracepoint\"} 0.25\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\nipctrail_bpf_calls_lost_total{reason=\"recursion\"} 3\n"
                      "ipctrail_bpf_calls_lost_total{reason=\"namespace_map_full\"} 0\n"),
            std::string::npos)
      << text;

  testing::CommandResult check = promtool_check_metrics(text);
  EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << text;
  EXPECT_EQ(check.output, "") << text;
}

// With `namespaces: all` (docs/design.md §9): another namespace's series carry ipc_namespace and
// container, in the same families as the host's, whose series keep their label sets.
TEST(Exposition, OtherNamespacesCarryTheirLabels) {
  Sample host = synthetic_sample(1);
  std::string alone = render_exposition({.sample = host});
  Sample container = synthetic_sample(2);
  container.semaphores = 7;
  Sample unnamed = synthetic_sample(0);
  unnamed.semaphores = 9;
  std::vector<NamespaceExposition> namespaces = {
      {"docker:1badc0deaaaa", "1badc0de", &container, {{"semaphores_used", "c", "", 3}}},
      {"ipc:[4026532305]", "", &unnamed, {}}};
  std::string text = render_exposition({.sample = host, .namespaces = namespaces});

  EXPECT_EQ(series_value(text, "ipctrail_semaphores"), series_value(alone, "ipctrail_semaphores"));
  EXPECT_EQ(series_value(text, R"(ipctrail_semaphores{ipc_namespace="docker:1badc0deaaaa",)"
                               R"(container="1badc0de"})"),
            "7");
  EXPECT_EQ(series_value(text, R"(ipctrail_semaphores{ipc_namespace="ipc:[4026532305]"})"), "9");
  EXPECT_EQ(series_value(text, R"(ipctrail_limit{name="semmni",ipc_namespace="ipc:[4026532305]"})"),
            "32000");
  EXPECT_EQ(series_value(text, R"(ipctrail_message_queue_bytes{msqid="101",key="0x00001001",)"
                               R"(ipc_namespace="docker:1badc0deaaaa",container="1badc0de"})"),
            "10");
  EXPECT_EQ(series_value(text, R"(ipctrail_alert_status{alert="semaphores_used",chart="c",)"
                               R"(alert_instance="",ipc_namespace="docker:1badc0deaaaa",)"
                               R"(container="1badc0de"})"),
            "3");
  // Every host line of the exposition without namespaces is still there, as it was.
  std::istringstream lines(alone);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with("ipctrail_message_queues ")) continue;  // other queue counts follow it
    EXPECT_NE(text.find(line + "\n"), std::string::npos) << line;
  }
  families_of(text);  // each family stays in one group
  testing::CommandResult check = promtool_check_metrics(text);
  EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << text;
}

// With BPF and `namespaces: all`, each namespace's IPC calls are counted apart (docs/design.md §9):
// its call and failure counters carry its labels; the programs' health series stay the host's.
TEST(Exposition, OtherNamespacesCallCountsCarryTheirLabels) {
  Sample host = synthetic_sample(0);
  IpcCallCounts host_totals;
  host_totals.calls_of(IpcCall::kSemget) = 4;
  host.ipc_calls = IpcCallActivity{"tracepoint", host_totals, std::nullopt, std::nullopt,
                                   IpcCallLosses{.other_namespace_calls = 6}};
  Sample container = synthetic_sample(0);
  IpcCallCounts container_totals;
  container_totals.calls_of(IpcCall::kSemget) = 30;
  container_totals.failures_of(IpcCall::kSemget, ErrnoClass::kENOSPC) = 24;
  container.ipc_calls =
      IpcCallActivity{"tracepoint", container_totals, std::nullopt, std::nullopt, IpcCallLosses{}};
  Sample without_counts = synthetic_sample(0);  // seen before its first reading
  std::vector<NamespaceExposition> namespaces = {
      {"docker:1badc0deaaaa", "1badc0de", &container, {}},
      {"ipc:[4026532305]", "", &without_counts, {}}};
  std::string text = render_exposition({.sample = host, .namespaces = namespaces});

  EXPECT_EQ(series_value(text, R"(ipctrail_syscalls_total{call="semget"})"), "4");
  EXPECT_EQ(series_value(text, R"(ipctrail_syscalls_total{call="semget",)"
                               R"(ipc_namespace="docker:1badc0deaaaa",container="1badc0de"})"),
            "30");
  EXPECT_EQ(series_value(text, R"(ipctrail_syscall_errors_total{call="semget",errno="ENOSPC",)"
                               R"(ipc_namespace="docker:1badc0deaaaa",container="1badc0de"})"),
            "24");
  EXPECT_EQ(text.find("ipctrail_syscalls_total{call=\"semget\",ipc_namespace=\"ipc:"),
            std::string::npos)
      << text;
  EXPECT_EQ(series_value(text, R"(ipctrail_bpf_calls_lost_total{reason="namespace_map_full"})"),
            "6");
  std::map<std::string, FamilyCount> families = families_of(text);
  EXPECT_EQ(families["ipctrail_syscalls_total"].samples, 2 * 12);
  EXPECT_EQ(families["ipctrail_syscall_errors_total"].samples, 1);
  EXPECT_EQ(families["ipctrail_bpf_calls_lost_total"].samples, 2);
  testing::CommandResult check = promtool_check_metrics(text);
  EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << text;
}

// Two namespaces whose processes sit in one unit's cgroup have one owner name: written as they are,
// their series would repeat, and Prometheus keeps only one of each. Both are told apart by inode.
TEST(Exposition, NamespacesOfOneNameAreToldApartByTheirInodes) {
  Sample host = synthetic_sample(0);
  Sample first = synthetic_sample(0);
  first.semaphores = 7;
  Sample second = synthetic_sample(0);
  second.semaphores = 9;
  Sample alone = synthetic_sample(0);
  alone.semaphores = 11;
  std::vector<NamespaceExposition> namespaces = {
      {"runner.service", "", &first, {}, 4026532305},
      {"runner.service", "", &second, {}, 4026532306},
      {"docker:1badc0deaaaa", "1badc0de", &alone, {}, 4026532307}};
  std::string text = render_exposition({.sample = host, .namespaces = namespaces});

  EXPECT_EQ(
      series_value(text, R"(ipctrail_semaphores{ipc_namespace="runner.service ipc:[4026532305]"})"),
      "7");
  EXPECT_EQ(
      series_value(text, R"(ipctrail_semaphores{ipc_namespace="runner.service ipc:[4026532306]"})"),
      "9");
  EXPECT_EQ(series_value(text, R"(ipctrail_semaphores{ipc_namespace="docker:1badc0deaaaa",)"
                               R"(container="1badc0de"})"),
            "11");
  EXPECT_EQ(text.find(R"(ipc_namespace="runner.service")"), std::string::npos) << text;
  std::map<std::string, FamilyCount> families = families_of(text);
  EXPECT_EQ(families["ipctrail_semaphores"].samples, 4);
  testing::CommandResult check = promtool_check_metrics(text);
  EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << text;
}

TEST(Exposition, ValuesAreExact) {
  Sample sample = synthetic_sample(3);
  IpcCallCounts totals;
  totals.calls_of(IpcCall::kSemget) = 18446744073709551615ULL;
  totals.failures_of(IpcCall::kSemget, ErrnoClass::kENOSPC) = 9007199254740993ULL;  // 2^53 + 1
  sample.ipc_calls = IpcCallActivity{"tracepoint", totals, std::nullopt, std::nullopt, {}};
  std::vector<AlertStatusSeries> alerts = {{"a", "c", "i", -2}};
  std::string text = render_exposition({.sample = sample, .alerts = alerts});

  EXPECT_EQ(series_value(text, "ipctrail_up"), "1");
  EXPECT_EQ(series_value(text, "ipctrail_last_sample_timestamp_seconds"), "1700000000.123");
  EXPECT_EQ(series_value(text, "ipctrail_semaphores"), "12");
  EXPECT_EQ(series_value(text, "ipctrail_semaphore_arrays"), "3");
  EXPECT_EQ(series_value(text, "ipctrail_message_queues"), "3");
  EXPECT_EQ(series_value(text, R"(ipctrail_message_queue_messages{msqid="102",key="0x00001002"})"),
            "2");
  EXPECT_EQ(series_value(text, R"(ipctrail_message_queue_bytes{msqid="102",key="0x00001002"})"),
            "20");
  EXPECT_EQ(series_value(text, "ipctrail_shared_memory_segments"), "2");
  EXPECT_EQ(series_value(text, "ipctrail_shared_memory_bytes"), "12289");
  EXPECT_EQ(series_value(text, "ipctrail_shared_memory_pages"), "4");
  EXPECT_EQ(series_value(text, R"(ipctrail_limit{name="shmall"})"), "18446744073692774399");
  EXPECT_EQ(series_value(text, R"(ipctrail_limit{name="shmmax"})"), "18446744073692774399");
  EXPECT_EQ(series_value(text, R"(ipctrail_limit{name="semmni"})"), "32000");
  EXPECT_EQ(series_value(text, R"(ipctrail_alert_status{alert="a",chart="c",alert_instance="i"})"),
            "-2");
  EXPECT_EQ(series_value(text, R"(ipctrail_syscalls_total{call="semget"})"),
            "18446744073709551615");
  EXPECT_EQ(series_value(text, R"(ipctrail_syscall_errors_total{call="semget",errno="ENOSPC"})"),
            "9007199254740993");
  EXPECT_EQ(promtool_check_metrics(text).exit_code, 0);
}

TEST(Exposition, NegativeKeysPrintAsTheirBitPattern) {
  Sample sample = synthetic_sample(0);
  MessageQueue queue;
  queue.key = -1;
  sample.queues->push_back(queue);
  std::string text = render_exposition({.sample = sample});
  EXPECT_EQ(series_value(text, R"(ipctrail_message_queue_bytes{msqid="0",key="0xffffffff"})"), "0");
}

TEST(Exposition, OddLabelValuesPassPromtool) {
  Sample sample = synthetic_sample(1);
  std::vector<AlertStatusSeries> alerts = {
      {"quote\"d", "back\\slash", "new\nline", 4},
      {"utf8 \xE2\x9C\x93 \xF0\x9F\x98\x80", "broken \xFF\xC3", "{braces},=", 2},
  };
  std::string text = render_exposition({.sample = sample, .alerts = alerts});
  EXPECT_NE(text.find(R"(ipctrail_alert_status{alert="quote\"d",chart="back\\slash",)"
                      R"(alert_instance="new\nline"} 4)"),
            std::string::npos)
      << text;
  testing::CommandResult check = promtool_check_metrics(text);
  EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << text;
  EXPECT_EQ(check.output, "");
}

TEST(Exposition, PartsNotCollectedAreLeftOut) {
  Sample sample;
  sample.ts_ms = 5;
  sample.semaphores = 0;
  std::string text = render_exposition({.sample = sample});
  std::map<std::string, FamilyCount> families = families_of(text);
  EXPECT_TRUE(families.contains("ipctrail_semaphores"));
  EXPECT_EQ(series_value(text, "ipctrail_semaphores"), "0");  // zero is a value, not absence
  for (const char* absent :
       {"ipctrail_semaphore_arrays", "ipctrail_message_queues", "ipctrail_message_queue_bytes",
        "ipctrail_shared_memory_bytes", "ipctrail_limit", "ipctrail_alert_status",
        "ipctrail_syscalls_total"}) {
    EXPECT_FALSE(families.contains(absent)) << absent << "\n" << text;
  }
  EXPECT_EQ(series_value(text, "ipctrail_last_sample_timestamp_seconds"), "0.005");
  EXPECT_EQ(promtool_check_metrics(text).exit_code, 0);
}

TEST(Exposition, NotReadySaysDown) {
  std::string text = render_not_ready_exposition();
  EXPECT_EQ(series_value(text, "ipctrail_up"), "0");
  EXPECT_EQ(families_of(text).size(), 1u);
  EXPECT_EQ(promtool_check_metrics(text).exit_code, 0);
}

// The judge must be able to say no: an unescaped newline and a counter without _total.
TEST(Promtool, RejectsWhatTheEscaperPrevents) {
  EXPECT_NE(
      promtool_check_metrics("# HELP x_total h\n# TYPE x_total counter\nx_total{a=\"b\nc\"} 1\n")
          .exit_code,
      0);
  EXPECT_NE(promtool_check_metrics("# HELP x h\n# TYPE x counter\nx 1\n").exit_code, 0);
}

}  // namespace
}  // namespace ipctrail
