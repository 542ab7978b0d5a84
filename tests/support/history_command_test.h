// A test of the ipctrail binary in a private IPC namespace, over a history file of its own in a
// fresh temporary folder: run("query ...") runs the command on that file.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "tests/support/ipc_namespace.h"
#include "tests/support/run_command.h"

namespace ipctrail::testing {

class HistoryCommandTest : public IpcNamespaceTest {
 protected:
  void SetUp() override {
    IpcNamespaceTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("ipctrail-" + std::string(test->test_suite_name()) + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    db_ = (dir_ / "history.db").string();
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  CommandResult run(const std::string& arguments) const {
    return run_ipctrail(arguments + " --db " + db_);
  }

  std::filesystem::path dir_;
  std::string db_;
};

}  // namespace ipctrail::testing
