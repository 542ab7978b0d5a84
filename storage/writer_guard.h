// What stands between the agent and a history path before SQLite opens it for writing: the checks
// that refuse a path the agent must never write (the README's History section lists each case),
// and the lock that makes one agent the file's only writer. Internal to storage/.
#pragma once

#include <sys/types.h>

#include <filesystem>

#include "storage/history_file_error.h"

namespace ipctrail {

class WriterGuard {
 public:
  // Refuses with HistoryFileError (naming the recovery step) before anything is created: a
  // symbolic link at the path or at its -wal, -journal or -shm name, anything but a regular file
  // (a directory, a device such as /dev/null, a FIFO), a file on a kernel file system (/proc,
  // /sys), a file that cannot be or is not meant to be written (read-only mount, no write bit), and
  // a path whose lock (<path>.lock, flock) another agent holds (its pid is in the message). Then
  // creates missing folders (0750) and the file (0640) without following links.
  explicit WriterGuard(const std::filesystem::path& path);
  ~WriterGuard();
  WriterGuard(const WriterGuard&) = delete;
  WriterGuard& operator=(const WriterGuard&) = delete;

  // False once the path no longer names the file that was checked: it was deleted or replaced
  // underneath the agent, whose writes would go to an unlinked inode. One stat() per call.
  bool still_at_path() const;

 private:
  std::filesystem::path path_;
  int lock_fd_ = -1;
  dev_t device_ = 0;
  ino_t inode_ = 0;
};

}  // namespace ipctrail
