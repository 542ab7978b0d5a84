// The textfile for node_exporter: atomic replacement, clear errors, the old file kept on failure.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "export/prometheus.h"
#include "model/textfile_path.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/prometheus_support.h"

namespace ipctrail {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::size_t entries_in(const fs::path& directory) {
  return static_cast<std::size_t>(
      std::distance(fs::directory_iterator(directory), fs::directory_iterator()));
}

TEST(Textfile, WritesAndReplacesLeavingNoTempFile) {
  testing::ScratchDirectory scratch;
  fs::path path = scratch.path() / "ipctrail.prom";
  write_file_atomically(path, "first\n");
  EXPECT_EQ(read_file(path), "first\n");
  write_file_atomically(path, "second\n");
  EXPECT_EQ(read_file(path), "second\n");
  EXPECT_EQ(entries_in(scratch.path()), 1u);

  struct stat status {};
  ASSERT_EQ(::stat(path.c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 0600, 0600u);
  EXPECT_EQ(status.st_mode & 0022, 0u) << "group or others may write";
}

// A link planted at the temporary name the agent used to pick (<path>.<pid>.tmp) aimed the root
// agent's write at any file it pointed to.
TEST(Textfile, ALinkPlantedAtATemporaryNameIsNotFollowed) {
  testing::ScratchDirectory scratch;
  fs::path path = scratch.path() / "ipctrail.prom";
  fs::path victim = scratch.path() / "victim";
  { std::ofstream(victim) << "precious\n"; }
  fs::path planted = path.string() + "." + std::to_string(::getpid()) + ".tmp";
  fs::create_symlink(victim, planted);
  write_file_atomically(path, "metrics\n");
  EXPECT_EQ(read_file(victim), "precious\n");
  EXPECT_TRUE(fs::is_symlink(planted));
  EXPECT_FALSE(fs::is_symlink(path));
  EXPECT_EQ(read_file(path), "metrics\n");
  EXPECT_EQ(entries_in(scratch.path()), 3u);  // the file, the victim and the planted link
}

TEST(Textfile, ReadersSeeTheOldOrTheNewFileNeverAPart) {
  testing::ScratchDirectory scratch;
  fs::path path = scratch.path() / "ipctrail.prom";
  const std::string small = render_exposition({.sample = testing::synthetic_sample(1)});
  const std::string large = render_exposition({.sample = testing::synthetic_sample(3000)});
  write_file_atomically(path, small);
  std::atomic<bool> done{false};
  std::atomic<int> torn{0}, reads{0};
  std::thread reader([&] {
    while (!done) {
      std::string text = read_file(path);
      ++reads;
      if (text != small && text != large) ++torn;
    }
  });
  for (int round = 0; round < 100; ++round) write_file_atomically(path, round % 2 ? small : large);
  done = true;
  reader.join();
  EXPECT_EQ(torn, 0) << "of " << reads << " reads";
  EXPECT_GT(reads, 0);
}

TEST(Textfile, MissingDirectoryIsAClearError) {
  testing::ScratchDirectory scratch;
  fs::path path = scratch.path() / "absent" / "ipctrail.prom";
  try {
    write_file_atomically(path, "x\n");
    FAIL() << "wrote into a missing directory";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code(), std::errc::no_such_file_or_directory);
    EXPECT_NE(std::string(error.what()).find((scratch.path() / "absent").string()),
              std::string::npos)
        << error.what();
  }
}

TEST(Textfile, ChecksTheConfiguredPath) {
  testing::ScratchDirectory scratch;
  EXPECT_NO_THROW(check_textfile_path(scratch.path() / "ipctrail.prom"));
  try {
    check_textfile_path(scratch.path() / "ipctrail.txt");
    FAIL() << "accepted a name node_exporter never reads";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find(".prom"), std::string::npos) << error.what();
  }
  try {
    check_textfile_path(scratch.path() / "absent" / "ipctrail.prom");
    FAIL() << "accepted a missing directory";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("does not exist"), std::string::npos) << error.what();
  }
}

TEST(Textfile, WriterRecoversAfterFailures) {
  testing::ScratchDirectory scratch;
  fs::path directory = scratch.path() / "later";
  TextfileWriter writer(directory / "ipctrail.prom");
  EXPECT_FALSE(writer.write("one\n"));
  EXPECT_FALSE(writer.write("two\n"));
  fs::create_directory(directory);
  EXPECT_TRUE(writer.write("three\n"));
  EXPECT_EQ(read_file(directory / "ipctrail.prom"), "three\n");
}

// A full disk: a 64 KiB tmpfs in a private mount namespace.
TEST(Textfile, FullDiskKeepsTheOldFile) {
  bool entered = ::unshare(CLONE_NEWNS) == 0 &&
                 ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
  IPCTRAIL_REQUIRE_PRIVILEGE(entered, std::string("private mount namespace: ") +
                                          std::strerror(errno) + " (this test needs root)");
  testing::ScratchDirectory scratch;
  ASSERT_EQ(::mount("ipctrail-test", scratch.path().c_str(), "tmpfs", 0, "size=64k"), 0)
      << std::strerror(errno);
  fs::path path = scratch.path() / "ipctrail.prom";
  const std::string small = render_exposition({.sample = testing::synthetic_sample(2)});
  write_file_atomically(path, small);

  const std::string large = render_exposition({.sample = testing::synthetic_sample(5000)});
  ASSERT_GT(large.size(), 64u * 1024);
  try {
    write_file_atomically(path, large);
    FAIL() << "wrote " << large.size() << " bytes into 64 KiB";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code(), std::errc::no_space_on_device) << error.what();
  }
  EXPECT_EQ(read_file(path), small);
  EXPECT_EQ(entries_in(scratch.path()), 1u) << "the temp file was left behind";

  TextfileWriter writer(path);
  EXPECT_FALSE(writer.write(large));
  EXPECT_TRUE(writer.write(small));
  ASSERT_EQ(::umount(scratch.path().c_str()), 0) << std::strerror(errno);
}

}  // namespace
}  // namespace ipctrail
