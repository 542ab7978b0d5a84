// A file descriptor owned by one object and closed when that object goes, so that every early
// return and exception closes it. The one copy for every folder: model depends on nothing, so each
// of them can use it.
#pragma once

#include <unistd.h>

#include <utility>

namespace ipctrail {

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      close();
      fd_ = other.release();
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { close(); }

  int get() const { return fd_; }
  // Hands the descriptor to the caller, who closes it.
  int release() { return std::exchange(fd_, -1); }
  // close()'s own result: it reports write-back errors (NFS, quota) that write() did not.
  int close() { return fd_ >= 0 ? ::close(release()) : 0; }

 private:
  int fd_;
};

}  // namespace ipctrail
