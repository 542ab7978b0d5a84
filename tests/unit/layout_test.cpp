// The build refuses a wrong-way include (cmake/IpctrailFolder.cmake): configuring a small project
// fails, naming the line, once a lower folder includes a higher one or a folder includes another's
// internal header; the same project with the right includes configures.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/run_command.h"

namespace ipctrail::testing {
namespace {

namespace fs = std::filesystem;

class Layout : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("ipctrail-layout-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    fs::copy(std::string(IPCTRAIL_FIXTURES) + "/layout", root_ / "src",
             fs::copy_options::recursive);
  }
  void TearDown() override { fs::remove_all(root_); }

  void append(const std::string& file, const std::string& line) {
    std::ofstream(root_ / "src" / file, std::ios::app) << line << "\n";
  }
  CommandResult configure() {
    return run_shell("cmake -S " + (root_ / "src").string() + " -B " + (root_ / "build").string() +
                     " -DIPCTRAIL_CMAKE_DIR=" + IPCTRAIL_SOURCE_DIR + "/cmake 2>&1");
  }

  fs::path root_;
};

TEST_F(Layout, RightWayIncludesConfigure) {
  CommandResult result = configure();
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST_F(Layout, LowerFolderIncludingAHigherOneIsRefused) {
  append("low/low.cpp", "#include \"high/high.h\"");
  CommandResult result = configure();
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("`#include \"high/high.h\"`: folder low may include only low"),
            std::string::npos)
      << result.output;
}

TEST_F(Layout, AnotherFoldersInternalHeaderIsRefused) {
  append("high/high.cpp", "#include \"low/secret.h\"");
  CommandResult result = configure();
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("low/secret.h is internal to low"), std::string::npos)
      << result.output;
}

}  // namespace
}  // namespace ipctrail::testing
