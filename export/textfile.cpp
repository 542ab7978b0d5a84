#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "export/prometheus.h"
#include "model/unique_fd.h"

namespace ipctrail {

namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

void write_all(int fd, std::string_view text, const std::string& path) {
  while (!text.empty()) {
    ssize_t written = ::write(fd, text.data(), text.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      throw_errno(fmt::format("cannot write {}", path));
    }
    text.remove_prefix(static_cast<std::size_t>(written));
  }
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view text) {
  std::filesystem::path directory = path.parent_path().empty() ? "." : path.parent_path();
  // Not *.prom, so node_exporter never reads a half-written file. A new file under a random name
  // (mkostemps: O_CREAT|O_EXCL, which follows no link): a name anyone could predict, such as
  // <path>.<pid>.tmp, lets a symbolic link planted there aim the agent's write at any file.
  std::string temp = path.string() + ".XXXXXX.tmp";
  UniqueFd file(::mkostemps(temp.data(), 4, O_CLOEXEC));
  if (file.get() < 0) throw_errno(fmt::format("cannot create {}", temp));
  try {
    // mkostemps creates 0600; node_exporter may run as another user.
    if (::fchmod(file.get(), 0644) != 0) throw_errno(fmt::format("cannot chmod {}", temp));
    write_all(file.get(), text, temp);
    if (::fsync(file.get()) != 0) throw_errno(fmt::format("cannot fsync {}", temp));
    if (file.close() != 0) throw_errno(fmt::format("cannot close {}", temp));
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      throw_errno(fmt::format("cannot rename {} to {}", temp, path.string()));
    }
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
  // The rename itself is durable only once the directory is synced.
  UniqueFd dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0 || ::fsync(dir.get()) != 0) {
    throw_errno(fmt::format("cannot fsync directory {}", directory.string()));
  }
}

bool TextfileWriter::write(std::string_view exposition) {
  try {
    write_file_atomically(path_, exposition);
  } catch (const std::exception& error) {
    if (!failing_) {
      spdlog::warn("textfile: {}; the previous file stays, retrying every tick", error.what());
    }
    failing_ = true;
    return false;
  }
  if (failing_) spdlog::info("textfile: {} is written again", path_.string());
  failing_ = false;
  return true;
}

}  // namespace ipctrail
