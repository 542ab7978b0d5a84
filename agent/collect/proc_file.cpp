#include "agent/collect/proc_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace ipctrail {

namespace {

// seq_file hands out as many whole records as fit in the read size, so a large read keeps the
// number of system calls low on a host with thousands of objects.
constexpr std::size_t kReadChunk = 256 * 1024;

}  // namespace

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
    if (buffer_.size() < used + kReadChunk) buffer_.resize(used + kReadChunk);
    ssize_t got = ::pread(fd, buffer_.data() + used, kReadChunk, static_cast<off_t>(used));
    if (got < 0) {
      if (errno == EINTR) continue;
      return {{}, errno};
    }
    if (got == 0) break;
    used += static_cast<std::size_t>(got);
    if (longest_record > 0 && static_cast<std::size_t>(got) + longest_record <= page_size) break;
  }
  return {std::string_view(buffer_.data(), used), 0};
}

}  // namespace ipctrail
