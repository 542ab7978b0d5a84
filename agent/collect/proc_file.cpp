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
  std::size_t used = 0;
  int error = 0;
  for (;;) {
    if (buffer_.size() < used + kReadChunk) buffer_.resize(used + kReadChunk);
    ssize_t got = ::read(fd, buffer_.data() + used, kReadChunk);
    if (got < 0) {
      if (errno == EINTR) continue;
      error = errno;
      break;
    }
    if (got == 0) break;
    used += static_cast<std::size_t>(got);
  }
  ::close(fd);
  if (error != 0) return {{}, error};
  return {std::string_view(buffer_.data(), used), 0};
}

}  // namespace ipctrail
