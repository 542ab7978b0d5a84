#include "report/report_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "report/report.h"

namespace ipctrail {

void write_report_file(const std::filesystem::path& path, std::string_view text) {
  struct stat existing {};
  if (::lstat(path.c_str(), &existing) == 0 && !S_ISREG(existing.st_mode)) {
    throw ReportError(
        fmt::format("{}: not a regular file (a link, a folder or a device); "
                    "refusing to write there",
                    path.string()));
  }
  std::string temporary = path.string() + ".XXXXXX";
  int fd = ::mkstemp(temporary.data());
  if (fd < 0) {
    throw ReportError(
        fmt::format("{}: cannot create a file beside it: {}", path.string(), std::strerror(errno)));
  }
  mode_t mask = ::umask(0);
  ::umask(mask);
  std::string_view left = text;
  int error = ::fchmod(fd, 0644 & ~mask) == 0 ? 0 : errno;
  while (error == 0 && !left.empty()) {
    ssize_t written = ::write(fd, left.data(), left.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      error = written < 0 ? errno : EIO;
      break;
    }
    left.remove_prefix(static_cast<std::size_t>(written));
  }
  if (error == 0 && ::fsync(fd) != 0) error = errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error == 0 && ::rename(temporary.c_str(), path.c_str()) != 0) error = errno;
  if (error != 0) {
    ::unlink(temporary.c_str());
    throw ReportError(
        fmt::format("{}: cannot write the report: {}", path.string(), std::strerror(error)));
  }
}

}  // namespace ipctrail
