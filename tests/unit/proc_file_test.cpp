// ProcFile: whole texts, and a read buffer that costs only the pages a read writes.
#include "agent/collect/proc_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace ipctrail {
namespace {

std::filesystem::path write_file(const std::string& name, const std::string& text) {
  std::filesystem::path path = std::filesystem::path(::testing::TempDir()) / name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// RssAnon of this process, in KiB (/proc/self/status).
std::int64_t anonymous_rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("RssAnon:", 0) == 0) return std::stoll(line.substr(8));
  }
  ADD_FAILURE() << "no RssAnon in /proc/self/status";
  return 0;
}

TEST(ProcFile, ReadsATextLargerThanOneReadWholeAndAgainFromItsStart) {
  std::string text;
  for (int row = 0; text.size() < 700 * 1024; ++row) text += "row " + std::to_string(row) + "\n";
  std::filesystem::path path = write_file("large.txt", text);
  ProcFile file;
  ProcFile::Result first = file.read(path.string());
  ASSERT_EQ(first.error, 0);
  EXPECT_EQ(first.text, text);

  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(file.read(fd).text, text);
  EXPECT_EQ(file.read(fd).text, text);  // pread from offset 0: the same text again
  ::close(fd);
  EXPECT_EQ(file.read("/nonexistent/ipctrail").error, ENOENT);
}

// 128 readers of a small file (as 128 namespaces' collectors of small tables) stay far below 128
// read buffers of 256 KiB resident: 33 MiB when the buffer was zero-filled on its first read. The
// bound, 96 KiB a reader, leaves room for a sanitizer's shadow of each buffer (32 KiB).
TEST(ProcFile, ASmallTextMakesOnlyItsOwnPagesResident) {
  std::filesystem::path path = write_file("small.txt", std::string(600, 'x') + "\n");
  std::vector<std::unique_ptr<ProcFile>> readers;
  std::int64_t before = anonymous_rss_kib();
  for (int i = 0; i < 128; ++i) {
    readers.push_back(std::make_unique<ProcFile>());
    ASSERT_EQ(readers.back()->read(path.string()).text.size(), 601u);
  }
  EXPECT_LT(anonymous_rss_kib() - before, 128 * 96)
      << "KiB of anonymous memory made resident by 128 reads of 601 bytes";
}

}  // namespace
}  // namespace ipctrail
