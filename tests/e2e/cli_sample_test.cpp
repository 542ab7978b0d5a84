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

}  // namespace
}  // namespace ipctrail
