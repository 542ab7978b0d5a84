// `ipctrail sample --namespaces` and `--namespace NAME|INODE|all` as a user runs them, against
// namespaces held by other processes, each with its own objects and limits (README "Every IPC
// namespace"). The test process itself sits in a private namespace: the "own" one.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/agent_process.h"
#include "tests/support/cgroup_tree.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/namespace_holder.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

using nlohmann::json;
using testing::NamespaceContents;
using testing::NamespaceHolder;

class NamespacesSample : public testing::IpcNamespaceTest {};

// The entry of `inode` in a --namespaces / --namespace all document, or null.
json entry_of(const json& document, std::uint64_t inode) {
  for (const json& entry : document["namespaces"]) {
    if (entry["inode"] == inode) return entry;
  }
  return nullptr;
}

json run_json(const std::string& arguments) {
  // Only stdout: the privilege line on stderr is checked where it matters.
  testing::CommandResult result =
      testing::run_shell("{ " + std::string(IPCTRAIL_BINARY) + " " + arguments + " 2>/dev/null; }");
  EXPECT_EQ(result.exit_code, 0) << arguments << ": " << result.output;
  json parsed = json::parse(result.output, nullptr, false);
  EXPECT_FALSE(parsed.is_discarded()) << result.output;
  return parsed;
}

std::string dimension(const std::string& chart) {
  return chart == "system.ipc_semaphores"           ? "semaphores"
         : chart == "system.ipc_semaphore_arrays"   ? "arrays"
         : chart == "system.shared_memory_segments" ? "segments"
                                                    : "bytes";
}

std::uint64_t total(const json& sample, const std::string& chart) {
  return sample["charts"][chart]["dimensions"][dimension(chart)].get<std::uint64_t>();
}

std::string cgroup_of(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line;
  while (std::getline(file, line)) {
    if (line.starts_with("0::")) return line.substr(3);
  }
  return "";
}

TEST_F(NamespacesSample, EachNamespaceWithItsObjectsLimitsAndNames) {
  create_semaphore_array(2);  // the test's own namespace: one array of two
  std::string container_id = "1badc0de" + std::string(56, 'a');
  std::string scope = "docker-" + container_id + ".scope";
  testing::TestCgroupTree cgroups("ipctrail-test-namespaces-" + std::to_string(::getpid()));
  IPCTRAIL_REQUIRE_PRIVILEGE(cgroups.created(), "no test cgroup: " + cgroups.error());
  testing::TestCgroup container = cgroups.make(scope);
  testing::TestCgroup unit = cgroups.make("postgresql.service");
  ASSERT_NE(container.id, 0u);
  ASSERT_NE(unit.id, 0u);

  NamespaceHolder first({.kernel_values = {{"sem", "250 1000 32 10"}, {"msgmni", "17"}},
                         .semaphore_arrays = {1, 2, 3},
                         .queues = {{100, 23}},
                         .segments = {8192}},
                        unit.directory);
  NamespaceHolder second({.kernel_values = {{"sem", "100 500 16 20"}, {"shmmni", "33"}},
                          .semaphore_arrays = {5},
                          .queues = {{}, {7}},
                          .segments = {4096, 10}});
  NamespaceHolder in_container({.kernel_values = {{"shmmni", "5"}},
                                .semaphore_arrays = {},
                                .queues = {},
                                .segments = {1 << 20}},
                               container.directory);
  ASSERT_TRUE(first.ok() && second.ok() && in_container.ok());
  ASSERT_TRUE(cgroup_of(in_container.pid()).ends_with("/" + scope));

  json all = run_json("sample --namespace all --format json");
  // Nothing is missing for root (a process more privileged still, such as a sandbox's init that
  // refuses ptrace even to root, may be).
  EXPECT_TRUE(all["incomplete"].is_null() ||
              all["incomplete"].get<std::string>().find("missing CAP_") == std::string::npos)
      << all["incomplete"];

  json one = entry_of(all, first.inode());
  ASSERT_FALSE(one.is_null()) << all.dump();
  EXPECT_EQ(one["pid"], first.pid());
  EXPECT_EQ(one["processes"], 1);
  EXPECT_EQ(one["own"], false);
  EXPECT_EQ(one["label"], "postgresql.service");
  EXPECT_EQ(one["owner"]["kind"], "unit");
  const json& first_sample = one["sample"];
  EXPECT_EQ(total(first_sample, "system.ipc_semaphores"), 6u);
  EXPECT_EQ(total(first_sample, "system.ipc_semaphore_arrays"), 3u);
  EXPECT_EQ(total(first_sample, "system.shared_memory_segments"), 1u);
  EXPECT_EQ(total(first_sample, "system.shared_memory_bytes"), 8192u);
  ASSERT_EQ(first_sample["queues"].size(), 1u);
  EXPECT_EQ(first_sample["queues"][0]["messages"], 2);
  EXPECT_EQ(first_sample["queues"][0]["bytes"], 123);
  EXPECT_EQ(first_sample["limits"]["semmsl"], 250);
  EXPECT_EQ(first_sample["limits"]["semmns"], 1000);
  EXPECT_EQ(first_sample["limits"]["semopm"], 32);
  EXPECT_EQ(first_sample["limits"]["semmni"], 10);
  EXPECT_EQ(first_sample["limits"]["msgmni"], 17);

  json two = entry_of(all, second.inode());
  ASSERT_FALSE(two.is_null());
  // In the test's own cgroup: whatever that names, never "host", and the inode when nothing.
  EXPECT_NE(two["owner"]["kind"], "host");
  if (two["owner"]["kind"] == "unknown") {
    EXPECT_EQ(two["label"], "ipc:[" + std::to_string(second.inode()) + "]");
  }
  const json& second_sample = two["sample"];
  EXPECT_EQ(total(second_sample, "system.ipc_semaphores"), 5u);
  EXPECT_EQ(total(second_sample, "system.ipc_semaphore_arrays"), 1u);
  EXPECT_EQ(total(second_sample, "system.shared_memory_segments"), 2u);
  EXPECT_EQ(total(second_sample, "system.shared_memory_bytes"), 4106u);
  ASSERT_EQ(second_sample["queues"].size(), 2u);
  EXPECT_EQ(second_sample["limits"]["semmni"], 20);
  EXPECT_EQ(second_sample["limits"]["shmmni"], 33);

  json three = entry_of(all, in_container.inode());
  ASSERT_FALSE(three.is_null());
  EXPECT_EQ(three["owner"]["kind"], "docker");
  EXPECT_EQ(three["owner"]["name"], "docker:1badc0deaaaa");
  EXPECT_EQ(three["owner"]["container_id"], container_id);
  EXPECT_EQ(three["label"], "docker:1badc0deaaaa");
  EXPECT_EQ(three["pid"], in_container.pid());
  const json& third_sample = three["sample"];
  EXPECT_EQ(total(third_sample, "system.ipc_semaphore_arrays"), 0u);
  EXPECT_EQ(total(third_sample, "system.shared_memory_bytes"), 1u << 20);
  EXPECT_EQ(third_sample["limits"]["shmmni"], 5);
  EXPECT_TRUE(third_sample["queues"].empty());

  // The test's own namespace is there, marked, with its one array; pid 1's is the host.
  json own = entry_of(all, testing::ipc_namespace_inode("self"));
  ASSERT_FALSE(own.is_null());
  EXPECT_EQ(own["own"], true);
  EXPECT_EQ(total(own["sample"], "system.ipc_semaphore_arrays"), 1u);
  EXPECT_EQ(total(own["sample"], "system.ipc_semaphores"), 2u);
  json host = entry_of(all, 0xEFFFFFFFu);  // the kernel's initial namespace
  ASSERT_FALSE(host.is_null());
  EXPECT_EQ(host["label"], "host");
  EXPECT_EQ(host["owner"]["kind"], "host");

  // Without --namespace, `sample` is what it was: the own namespace, no "namespace" key.
  json plain = run_json("sample --format json");
  EXPECT_FALSE(plain.contains("namespace"));
  EXPECT_EQ(total(plain, "system.ipc_semaphore_arrays"), 1u);

  // One namespace by its inode: the usual document, and who it is.
  json by_inode = run_json("sample --format json --namespace " + std::to_string(second.inode()));
  EXPECT_EQ(by_inode["namespace"]["inode"], second.inode());
  EXPECT_EQ(by_inode["namespace"]["pid"], second.pid());
  EXPECT_EQ(by_inode["limits"]["semmni"], 20);
  EXPECT_EQ(total(by_inode, "system.ipc_semaphores"), 5u);
  json by_link =
      run_json("sample --format json --namespace 'ipc:[" + std::to_string(first.inode()) + "]'");
  EXPECT_EQ(by_link["namespace"]["inode"], first.inode());
  EXPECT_EQ(run_json("sample --format json --namespace host")["namespace"]["owner"]["kind"],
            "host");
  json by_name = run_json("sample --format json --namespace docker:1badc0deaaaa");
  EXPECT_EQ(by_name["namespace"]["inode"], in_container.inode());
  EXPECT_EQ(by_name["limits"]["shmmni"], 5);

  // The list: one summary line each.
  json list = run_json("sample --namespaces --format json");
  json summary = entry_of(list, first.inode())["summary"];
  EXPECT_EQ(summary["arrays"], 3);
  EXPECT_EQ(summary["semmni"], 10);
  EXPECT_EQ(summary["semaphores"], 6);
  EXPECT_EQ(summary["semmns"], 1000);
  EXPECT_EQ(summary["queues"], 1);
  EXPECT_EQ(summary["msgmni"], 17);
  EXPECT_EQ(summary["segments"], 1);
  EXPECT_EQ(entry_of(list, in_container.inode())["summary"]["shmmni"], 5);
  testing::CommandResult table = testing::run_ipctrail("sample --namespaces");
  ASSERT_EQ(table.exit_code, 0) << table.output;
  std::size_t line = table.output.find(std::to_string(first.inode()));
  ASSERT_NE(line, std::string::npos) << table.output;
  std::string first_line = table.output.substr(line, table.output.find('\n', line) - line);
  EXPECT_NE(first_line.find(" 3/10 "), std::string::npos) << first_line;
  EXPECT_NE(first_line.find(" 6/1000 "), std::string::npos) << first_line;
  EXPECT_NE(first_line.find(" 1/17 "), std::string::npos) << first_line;
}

TEST_F(NamespacesSample, UnknownOrAmbiguousNamesAndPrometheusOfAllAreRefused) {
  testing::CommandResult unknown = testing::run_ipctrail("sample --namespace no-such-thing");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("no IPC namespace no-such-thing"), std::string::npos);
  testing::CommandResult prometheus =
      testing::run_ipctrail("sample --namespace all --format prometheus");
  EXPECT_EQ(prometheus.exit_code, 2) << prometheus.output;
  testing::CommandResult bpf = testing::run_ipctrail("sample --namespaces --bpf on");
  EXPECT_EQ(bpf.exit_code, 2) << bpf.output;
  testing::CommandResult own = testing::run_ipctrail("sample --namespace own --format prometheus");
  EXPECT_EQ(own.exit_code, 0) << own.output;
}

TEST_F(NamespacesSample, TwoHundredNamespacesAreAllSampled) {
  constexpr int kNamespaces = 200;
  std::vector<NamespaceHolder> holders;
  holders.reserve(kNamespaces);
  for (int i = 0; i < kNamespaces; ++i) {
    holders.emplace_back(NamespaceContents{
        .kernel_values = {}, .semaphore_arrays = {i % 7 + 1}, .queues = {}, .segments = {}});
    ASSERT_TRUE(holders.back().ok());
  }
  json all = run_json("sample --namespace all --format json");
  for (int i = 0; i < kNamespaces; ++i) {
    json entry = entry_of(all, holders[i].inode());
    ASSERT_FALSE(entry.is_null()) << "namespace " << i;
    EXPECT_EQ(total(entry["sample"], "system.ipc_semaphores"),
              static_cast<std::uint64_t>(i % 7 + 1));
    EXPECT_EQ(total(entry["sample"], "system.ipc_semaphore_arrays"), 1u);
  }
}

// What `all` needs, measured as user nobody with each set of capabilities (packaging/README.md):
// reading other users' /proc/<pid>/ns/ipc needs CAP_SYS_PTRACE, entering needs CAP_SYS_ADMIN.
// Without them it says what is missing in one line and samples what it can.
TEST_F(NamespacesSample, SaysWhichCapabilityIsMissingAndSamplesWhatItCan) {
  create_semaphore_array(4);
  NamespaceHolder root_held(
      {.kernel_values = {}, .semaphore_arrays = {3}, .queues = {}, .segments = {}});
  ASSERT_TRUE(root_held.ok());
  std::string errors = "/tmp/ipctrail-namespaces-" + std::to_string(::getpid()) + ".stderr";
  struct Case {
    std::string capabilities;  // setpriv's list: "" or "+sys_ptrace,+sys_admin"
    bool sees_it, enters_it;
    std::string missing;
  };
  for (const Case& run : {Case{"", false, false, "CAP_SYS_PTRACE"},
                          Case{"+sys_admin", false, false, "CAP_SYS_PTRACE"},
                          Case{"+sys_ptrace", true, false, "CAP_SYS_ADMIN"},
                          Case{"+sys_ptrace,+sys_admin", true, true, ""}}) {
    SCOPED_TRACE("capabilities: " + run.capabilities);
    std::string caps = "-all" + (run.capabilities.empty() ? "" : "," + run.capabilities);
    testing::CommandResult result = testing::run_shell(
        "{ setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=" + caps +
        " --ambient-caps=" + caps + " --bounding-set=" + caps + " " + IPCTRAIL_BINARY +
        " sample --namespaces --format json 2>" + errors + "; }");
    std::string stderr_text = testing::read_text(errors);
    ::unlink(errors.c_str());
    ASSERT_EQ(result.exit_code, 0) << result.output << stderr_text;
    json list = json::parse(result.output, nullptr, false);
    ASSERT_FALSE(list.is_discarded()) << result.output;
    json own = entry_of(list, testing::ipc_namespace_inode("self"));
    ASSERT_FALSE(own.is_null()) << "its own namespace is always sampled";
    EXPECT_EQ(own["summary"]["arrays"], 1);
    json held = entry_of(list, root_held.inode());
    EXPECT_EQ(!held.is_null(), run.sees_it) << list.dump();
    if (run.sees_it) {
      EXPECT_EQ(held.contains("summary"), run.enters_it) << held.dump();
    }
    if (run.enters_it) {
      EXPECT_EQ(held["summary"]["semaphores"], 3);
    }
    if (run.missing.empty()) {
      EXPECT_TRUE(list["incomplete"].is_null() ||
                  list["incomplete"].get<std::string>().find("missing CAP_") == std::string::npos)
          << list["incomplete"];
      EXPECT_EQ(stderr_text.find("missing CAP_"), std::string::npos) << stderr_text;
    } else {
      EXPECT_NE(list["incomplete"].get<std::string>().find(run.missing), std::string::npos);
      EXPECT_EQ(std::count(stderr_text.begin(), stderr_text.end(), '\n'), 1) << stderr_text;
      EXPECT_NE(stderr_text.find("missing " + run.missing), std::string::npos) << stderr_text;
    }
  }
}

}  // namespace
}  // namespace ipctrail
