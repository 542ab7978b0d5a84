// `ipctrail sample` run as a program, in a private IPC namespace.
#include <nlohmann/json.hpp>

#include "tests/support/ipc_namespace.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

using CliSample = testing::IpcNamespaceTest;

TEST_F(CliSample, JsonReportsTheNamespace) {
  set_kernel_value("sem", "250 1000 32 10");
  create_semaphore_array(7);
  int msqid = create_queue();
  send_message(msqid, 42);
  create_segment(65536);

  testing::CommandResult sample = testing::run_ipctrail("sample --format json");
  ASSERT_EQ(sample.exit_code, 0) << sample.output;
  nlohmann::json json = nlohmann::json::parse(sample.output);
  const auto& charts = json["charts"];
  EXPECT_EQ(charts["system.ipc_semaphores"]["dimensions"]["semaphores"], 7);
  EXPECT_EQ(charts["system.ipc_semaphore_arrays"]["dimensions"]["arrays"], 1);
  EXPECT_EQ(charts["system.message_queue_message"]["dimensions"][std::to_string(msqid)], 1);
  EXPECT_EQ(charts["system.message_queue_bytes"]["dimensions"][std::to_string(msqid)], 42);
  EXPECT_EQ(charts["system.shared_memory_segments"]["dimensions"]["segments"], 1);
  EXPECT_EQ(charts["system.shared_memory_bytes"]["dimensions"]["bytes"], 65536);
  EXPECT_EQ(json["limits"]["semmni"], 10);
  EXPECT_EQ(json["limits"]["semmns"], 1000);
}

// The JSON is a machine contract: a limit is the kernel's number, "unlimited" ones included.
TEST_F(CliSample, JsonKeepsTheKernelsNumberForUnlimited) {
  set_kernel_value("shmall", "18446744073692774399");
  testing::CommandResult sample = testing::run_ipctrail("sample --format json");
  ASSERT_EQ(sample.exit_code, 0) << sample.output;
  EXPECT_EQ(nlohmann::json::parse(sample.output)["limits"]["shmall"], 18446744073692774399ULL);
}

// The line of the table that starts with `label` (after the indent), or "" when there is none.
std::string table_line(const std::string& table, const std::string& label) {
  std::size_t at = table.find("\n  " + label + " ");
  if (at == std::string::npos) return "";
  std::size_t end = table.find('\n', at + 1);
  return table.substr(at + 1, end - at - 1);
}

// The kernel's default shmall and shmmax (ULONG_MAX - 2^24) and anything above mean "no limit":
// the table says so instead of printing 18446744073692774399, and no percentage of it.
TEST_F(CliSample, TableShowsUnlimitedLimitsAsUnlimited) {
  set_kernel_value("shmall", "18446744073692774399");
  set_kernel_value("shmmax", "18446744073709551615");
  create_segment(3 * 4096);
  testing::CommandResult sample = testing::run_ipctrail("sample");
  ASSERT_EQ(sample.exit_code, 0) << sample.output;
  EXPECT_EQ(sample.output.find("18446744073"), std::string::npos) << sample.output;
  EXPECT_NE(table_line(sample.output, "pages").find("3 pages       of unlimited shmall"),
            std::string::npos)
      << sample.output;
  EXPECT_NE(table_line(sample.output, "shmall").find("unlimited"), std::string::npos)
      << sample.output;
  EXPECT_NE(table_line(sample.output, "shmmax").find("unlimited"), std::string::npos)
      << sample.output;
}

// Just below the rule's bound is a real limit: its number and the percentage used.
TEST_F(CliSample, TableShowsALimitBelowTheUnlimitedBoundAsANumber) {
  set_kernel_value("shmall", "18446744073692774398");
  testing::CommandResult sample = testing::run_ipctrail("sample");
  ASSERT_EQ(sample.exit_code, 0) << sample.output;
  EXPECT_NE(table_line(sample.output, "pages").find("of 18446744073692774398 shmall (0.0% used)"),
            std::string::npos)
      << sample.output;
}

// Bytes and pages are never mixed on one line: the size in bytes, then the same in pages, which
// is what shmall limits.
TEST_F(CliSample, TableShowsOneUnitPerLine) {
  set_kernel_value("shmall", "1000");
  create_segment(2 * 1024 * 1024);
  testing::CommandResult sample = testing::run_ipctrail("sample");
  ASSERT_EQ(sample.exit_code, 0) << sample.output;
  std::string size = table_line(sample.output, "size");
  EXPECT_NE(size.find("2097152 bytes       (2.0 MiB)"), std::string::npos) << sample.output;
  EXPECT_EQ(size.find("page"), std::string::npos) << size;
  std::string pages = table_line(sample.output, "pages");
  EXPECT_NE(pages.find("512 pages       of 1000 shmall (51.2% used)"), std::string::npos)
      << sample.output;
  EXPECT_EQ(pages.find("byte"), std::string::npos) << pages;
}

TEST_F(CliSample, TableIsForPeople) {
  create_semaphore_array(3);
  testing::CommandResult sample = testing::run_ipctrail("sample");
  ASSERT_EQ(sample.exit_code, 0) << sample.output;
  EXPECT_NE(sample.output.find("Semaphores"), std::string::npos) << sample.output;
  EXPECT_NE(sample.output.find("semmni"), std::string::npos) << sample.output;
}

TEST(CliBasics, VersionAndHelp) {
  testing::CommandResult version = testing::run_ipctrail("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.output.rfind("ipctrail ", 0), 0u) << version.output;
  testing::CommandResult help = testing::run_ipctrail("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("sample"), std::string::npos) << help.output;
}

TEST(CliBasics, BadArgumentsExitWithUsageError) {
  testing::CommandResult bad_format = testing::run_ipctrail("sample --format xml");
  EXPECT_EQ(bad_format.exit_code, 2);
  EXPECT_NE(bad_format.output.find("--format"), std::string::npos) << bad_format.output;
  testing::CommandResult no_command = testing::run_ipctrail("");
  EXPECT_EQ(no_command.exit_code, 2);
  testing::CommandResult unknown = testing::run_ipctrail("frobnicate");
  EXPECT_EQ(unknown.exit_code, 2);
}

TEST(CliBasics, AnUnknownCommandIsNamedWithTheCommands) {
  testing::CommandResult unknown = testing::run_ipctrail("--log-level warn foo --bar");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.output.find("unknown command 'foo'; commands: sample, agent, query, at, "
                                "check-config, alerts"),
            std::string::npos)
      << unknown.output;
  testing::CommandResult none = testing::run_ipctrail("--log-level warn");
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.output.find("a command is required; commands: sample, agent"), std::string::npos)
      << none.output;
}

}  // namespace
}  // namespace ipctrail
