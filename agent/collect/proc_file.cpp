#include "agent/collect/proc_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ipctrail {

namespace {

// seq_file hands out as many whole records as fit in the read size, so a large read keeps the
// number of system calls low on a host with thousands of objects.
constexpr std::size_t kReadChunk = 256 * 1024;

}  // namespace

void ProcFile::reserve(std::size_t size, std::size_t used) {
  if (capacity_ >= size) return;
  size = std::max(size, 2 * capacity_);  // geometric: a large table is copied O(1) times a byte
  // make_unique_for_overwrite leaves the bytes uninitialised (a vector or string would write
  // every byte and make every page resident).
  std::unique_ptr<char[]> grown = std::make_unique_for_overwrite<char[]>(size);
  if (used > 0) std::memcpy(grown.get(), buffer_.get(), used);
  buffer_ = std::move(grown);
  capacity_ = size;
}

ProcFile::Result ProcFile::read(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {{}, errno};
  Result result = read(fd);
  ::close(fd);
  return result;
}

ProcFile::Result ProcFile::read(int fd, std::size_t longest_record) {
  static const auto page_size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::size_t used = 0;
  for (;;) {
    reserve(used + kReadChunk, used);
    ssize_t got = ::pread(fd, buffer_.get() + used, kReadChunk, static_cast<off_t>(used));
    if (got < 0) {
      if (errno == EINTR) continue;
      return {{}, errno};
    }
    if (got == 0) break;
    used += static_cast<std::size_t>(got);
    if (longest_record > 0 && static_cast<std::size_t>(got) + longest_record <= page_size) break;
  }
  return {std::string_view(buffer_.get(), used), 0};
}

}  // namespace ipctrail
