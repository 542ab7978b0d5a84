#include "storage/writer_guard.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "model/unique_fd.h"

namespace ipctrail {

namespace {

namespace fs = std::filesystem;

constexpr const char* kPointElsewhere = "set database.path (or --db) to a regular file";

std::string errno_text(int error) {
  return std::strerror(error);
}

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// Kernel file systems whose files look regular (size 0) but are kernel interfaces: SQLite would
// take one for an empty database and write a header into it.
const char* kernel_file_system(const struct statfs& info) {
  static constexpr std::array<std::pair<unsigned long, const char*>, 11> kKernel = {{
      {PROC_SUPER_MAGIC, "procfs"},
      {SYSFS_MAGIC, "sysfs"},
      {DEBUGFS_MAGIC, "debugfs"},
      {TRACEFS_MAGIC, "tracefs"},
      {CGROUP_SUPER_MAGIC, "cgroupfs"},
      {CGROUP2_SUPER_MAGIC, "cgroup2"},
      {SECURITYFS_MAGIC, "securityfs"},
      {BPF_FS_MAGIC, "bpffs"},
      {EFIVARFS_MAGIC, "efivarfs"},
      {DEVPTS_SUPER_MAGIC, "devpts"},
      {0x62656570, "configfs"},
  }};
  for (const auto& [magic, name] : kKernel) {
    if (static_cast<unsigned long>(info.f_type) == magic) return name;
  }
  return nullptr;
}

// The path itself (or a file SQLite keeps beside it) must be a regular file or missing.
void refuse_planted(const fs::path& path, bool main_file) {
  struct stat status {};
  if (::lstat(path.c_str(), &status) != 0) {
    if (errno == ENOENT) return;
    throw HistoryFileError(
        fmt::format("{}: cannot check it: {}", path.string(), errno_text(errno)));
  }
  if (S_ISLNK(status.st_mode)) {
    throw HistoryFileError(fmt::format(
        "{} is a symbolic link; the agent does not write through links (whoever can change the "
        "link would choose what it overwrites): {}",
        path.string(), main_file ? kPointElsewhere : "remove the link"));
  }
  if (!S_ISREG(status.st_mode)) {
    throw HistoryFileError(fmt::format("{} is {}, not a history file: {}", path.string(),
                                       kind_of(status.st_mode),
                                       main_file ? kPointElsewhere : "remove it"));
  }
}

void create_missing_folders(const fs::path& folder) {
  std::vector<fs::path> missing;
  for (fs::path at = folder; !at.empty() && !fs::exists(at); at = at.parent_path()) {
    missing.push_back(at);
    if (at == at.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0750) != 0 && errno != EEXIST) {
      throw std::system_error(errno, std::generic_category(), "cannot create " + it->string());
    }
    ::chmod(it->c_str(), 0750);  // mkdir's mode passes through the umask
  }
}

// Another agent's pid, as it wrote it into the lock file; 0 when unreadable.
long holder_pid(int lock_fd) {
  std::array<char, 32> text{};
  ssize_t got = ::pread(lock_fd, text.data(), text.size() - 1, 0);
  return got > 0 ? std::strtol(text.data(), nullptr, 10) : 0;
}

// One writer per file: an flock() on <path>.lock, which the kernel drops when the process dies
// however it dies. Not a lock on the database itself: SQLite takes POSIX (fcntl) locks there, and
// a second descriptor on that file closed by this process would drop SQLite's own locks.
int take_lock(const fs::path& path) {
  fs::path lock_path = path.string() + ".lock";
  UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640));
  if (lock.get() < 0) {
    int error = errno;
    if (error == ELOOP) refuse_planted(lock_path, false);
    throw HistoryFileError(
        fmt::format("cannot open the lock file {}: {}", lock_path.string(), errno_text(error)));
  }
  struct stat status {};
  if (::fstat(lock.get(), &status) != 0 || !S_ISREG(status.st_mode)) {
    throw HistoryFileError(
        fmt::format("{} is {}: remove it", lock_path.string(), kind_of(status.st_mode)));
  }
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) {
      throw HistoryFileError(
          fmt::format("cannot lock {}: {}", lock_path.string(), errno_text(errno)));
    }
    long pid = holder_pid(lock.get());
    throw HistoryFileError(fmt::format(
        "{} is being written by another ipctrail agent ({}, holding {}); one agent writes a "
        "history file: stop that one first, or give this one another --db",
        path.string(), pid > 0 ? fmt::format("pid {}", pid) : std::string("pid unknown"),
        lock_path.string()));
  }
  std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(lock.get(), 0) != 0 ||
      ::pwrite(lock.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    throw HistoryFileError(
        fmt::format("cannot write {}: {}", lock_path.string(), errno_text(errno)));
  }
  return lock.release();
}

struct CheckedFile {
  struct stat status;
  bool created;
};

// Opens (creating when missing, mode 0640 rather than SQLite's 0644: history is not for every
// local user) without following links, and refuses what can never be written.
CheckedFile open_checked(const fs::path& path) {
  int flags = O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
  int fd = ::open(path.c_str(), flags | O_CREAT | O_EXCL, 0640);
  bool created = fd >= 0;
  if (created) {
    ::fchmod(fd, 0640);  // open's mode passes through the umask
  } else if (errno == EEXIST) {
    fd = ::open(path.c_str(), flags);
  }
  UniqueFd file(fd);
  if (file.get() < 0) {
    int error = errno;
    if (error == ELOOP) refuse_planted(path, true);
    if (error == EACCES || error == EPERM || error == EROFS || error == ETXTBSY) {
      throw HistoryFileError(
          fmt::format("{} cannot be written ({}): make it writable by the agent, or {}",
                      path.string(), errno_text(error), kPointElsewhere));
    }
    throw std::system_error(error, std::generic_category(), "cannot open " + path.string());
  }
  struct stat status {};
  struct statfs file_system {};
  if (::fstat(file.get(), &status) != 0 || ::fstatfs(file.get(), &file_system) != 0) {
    throw std::system_error(errno, std::generic_category(), "cannot check " + path.string());
  }
  if (!S_ISREG(status.st_mode)) {
    throw HistoryFileError(
        fmt::format("{} is {}: {}", path.string(), kind_of(status.st_mode), kPointElsewhere));
  }
  if (const char* kernel = kernel_file_system(file_system)) {
    throw HistoryFileError(fmt::format("{} is on {}, a kernel interface, not a disk: {}",
                                       path.string(), kernel, kPointElsewhere));
  }
  // Root may write a file without a write bit; the mode is still the owner's word that it must
  // not change.
  if ((status.st_mode & 0222) == 0) {
    throw HistoryFileError(fmt::format(
        "{} is read-only (mode {:04o}): `chmod u+w {}` if the agent may write it, or {}",
        path.string(), status.st_mode & 07777, path.string(), kPointElsewhere));
  }
  return {status, created};
}

}  // namespace

WriterGuard::WriterGuard(const fs::path& path) : path_(path) {
  refuse_planted(path_, true);
  for (const char* suffix : {"-wal", "-journal", "-shm"}) {
    refuse_planted(path_.string() + suffix, false);
  }
  if (!path_.parent_path().empty()) create_missing_folders(path_.parent_path());
  // The file is checked before the lock file is made beside it: refusing /dev/null must not
  // leave /dev/null.lock behind.
  CheckedFile file = open_checked(path_);
  lock_fd_ = take_lock(path_);
  device_ = file.status.st_dev;
  inode_ = file.status.st_ino;
  if (file.created) {
    // Left by a file deleted before its writer closed it: SQLite would replay that file's pages
    // into this new one.
    for (const char* suffix : {"-wal", "-journal", "-shm"}) {
      ::unlink((path_.string() + suffix).c_str());
    }
  }
}

WriterGuard::~WriterGuard() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

bool WriterGuard::still_at_path() const {
  struct stat status {};
  if (::lstat(path_.c_str(), &status) != 0) return errno != ENOENT;
  return status.st_dev == device_ && status.st_ino == inode_;
}

}  // namespace ipctrail
