// Every ```sql example of README.md, run with the sqlite3 program against a file the agent wrote.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/ipc_namespace.h"
#include "tests/support/namespace_holder.h"
#include "tests/support/run_command.h"

namespace ipctrail {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> sql_examples(const std::string& markdown) {
  std::vector<std::string> examples;
  const std::string open = "```sql\n";
  for (std::size_t at = markdown.find(open); at != std::string::npos;
       at = markdown.find(open, at)) {
    at += open.size();
    std::size_t end = markdown.find("```", at);
    if (end == std::string::npos) break;
    examples.push_back(markdown.substr(at, end - at));
    at = end + 3;
  }
  return examples;
}

using ReadmeExamples = testing::IpcNamespaceTest;

TEST_F(ReadmeExamples, EverySqlExampleRunsAndAnswers) {
  fs::path dir = fs::temp_directory_path() / ("ipctrail-readme-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string db = (dir / "history.db").string();

  create_semaphore_array(5);
  create_segment(4096);
  int kept = create_queue();
  send_message(kept, 10);
  int removed = create_queue();
  ASSERT_EQ(testing::run_ipctrail("agent --interval 100ms --ticks 3 --db " + db).exit_code, 0);
  remove_queue(removed);
  send_message(kept, 20);
  // The second run watches every namespace, one of them holding objects of its own: the examples,
  // written for the host's rows, still run and answer on a file with other namespaces' rows.
  testing::NamespaceHolder other({.kernel_values = {{"sem", "250 32000 32 10"}},
                                  .semaphore_arrays = {1, 2},
                                  .queues = {{5}},
                                  .segments = {}});
  ASSERT_TRUE(other.ok());
  std::string config = (dir / "all.yaml").string();
  std::ofstream(config) << "namespaces: all\n";
  ASSERT_EQ(
      testing::run_ipctrail("agent --interval 100ms --ticks 3 --config " + config + " --db " + db)
          .exit_code,
      0);

  std::ifstream readme(std::string(IPCTRAIL_SOURCE_DIR) + "/README.md");
  ASSERT_TRUE(readme) << "cannot open README.md in " << IPCTRAIL_SOURCE_DIR;
  std::stringstream markdown;
  markdown << readme.rdbuf();
  std::vector<std::string> examples = sql_examples(markdown.str());
  ASSERT_GE(examples.size(), 6u) << "README.md lost its SQL examples";

  for (std::size_t i = 0; i < examples.size(); ++i) {
    std::string script = (dir / ("example" + std::to_string(i) + ".sql")).string();
    std::ofstream(script) << examples[i];
    std::string command = "sqlite3 -bail " + db + " < " + script + " 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    char chunk[4096];
    std::size_t got = 0;
    while ((got = std::fread(chunk, 1, sizeof chunk, pipe)) > 0) output.append(chunk, got);
    int status = ::pclose(pipe);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << examples[i] << output;
    EXPECT_EQ(output.find("Error"), std::string::npos) << examples[i] << output;
    EXPECT_FALSE(output.empty()) << "no answer from\n" << examples[i];
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ipctrail
