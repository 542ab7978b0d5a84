// `ipctrail report` as a user runs it on bad input: an empty window, a window outside the file,
// a file of an older schema, a foreign file, and -o pointing at a link. Each is one clear line,
// exit 2, and nothing written.
#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "model/time_text.h"
#include "tests/support/incident_history.h"
#include "tests/support/prometheus_support.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

namespace fs = std::filesystem;
using testing::kIncidentStart;

std::string at(std::int64_t second) {
  return iso8601_utc(kIncidentStart + second * 1000);
}

class ReportCli : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_incident_history(db_); }

  // Runs `report` into out_, expecting refusal: exit 2, one line naming the command, no file.
  void expect_refused(const std::string& arguments, const std::string& words) {
    testing::CommandResult result = testing::run_ipctrail("report " + arguments + " -o " + out_);
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
    EXPECT_TRUE(result.output.starts_with("ipctrail report: ")) << result.output;
    EXPECT_NE(result.output.find(words), std::string::npos) << result.output;
    EXPECT_FALSE(fs::exists(out_)) << "a refused report wrote " << out_;
    EXPECT_EQ(files(), files_before_) << "a temporary file was left behind";
  }

  // The files in the scratch folder but SQLite's own -wal and -shm beside a history file (which
  // opening a file in WAL mode creates, for any reader).
  long files() const {
    long count = 0;
    for (const fs::directory_entry& entry : fs::directory_iterator(scratch_.path())) {
      std::string name = entry.path().filename().string();
      count += !name.ends_with("-wal") && !name.ends_with("-shm");
    }
    return count;
  }

  testing::ScratchDirectory scratch_;
  std::string db_ = (scratch_.path() / "history.db").string();
  std::string out_ = (scratch_.path() / "report.html").string();
  long files_before_ = 0;
};

TEST_F(ReportCli, WritesTheReportWhereAsked) {
  testing::CommandResult result =
      testing::run_ipctrail("report --db " + db_ + " --since " + at(0) + " --until " + at(300) +
                            " --format html -o " + out_);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "");
  EXPECT_TRUE(testing::run_shell("head -c 15 " + out_).output.starts_with("<!DOCTYPE html>"));
}

TEST_F(ReportCli, AnEmptyWindowIsRefused) {
  files_before_ = files();
  expect_refused("--db " + db_ + " --since " + at(100) + " --until " + at(100), "empty");
}

TEST_F(ReportCli, AWindowOutsideTheFileIsRefused) {
  files_before_ = files();
  expect_refused("--db " + db_ + " --since " + at(1000) + " --until " + at(2000), "no samples");
}

TEST_F(ReportCli, AnOlderSchemaIsRefusedWithTheWayToUpgrade) {
  {
    SQLite::Database db(db_, SQLite::OPEN_READWRITE);
    db.exec("PRAGMA user_version = 5");
  }
  files_before_ = files();
  expect_refused("--db " + db_ + " --since " + at(0), "to upgrade it in place");
}

TEST_F(ReportCli, AForeignFileIsRefused) {
  std::string foreign = (scratch_.path() / "foreign.db").string();
  {
    SQLite::Database db(foreign, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("CREATE TABLE t (x)");
  }
  files_before_ = files();
  expect_refused("--db " + foreign + " --since " + at(0), "not an ipctrail history file");
}

TEST_F(ReportCli, OutputThroughALinkIsRefusedAndTheTargetKept) {
  std::string target = (scratch_.path() / "precious").string();
  std::ofstream(target) << "keep";
  fs::create_symlink(target, out_);
  testing::CommandResult result = testing::run_ipctrail("report --db " + db_ + " --since " + at(0) +
                                                        " --until " + at(300) + " -o " + out_);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("not a regular file"), std::string::npos) << result.output;
  EXPECT_EQ(testing::run_shell("cat " + target).output, "keep");
  EXPECT_TRUE(fs::is_symlink(out_));
}

}  // namespace
}  // namespace ipctrail
