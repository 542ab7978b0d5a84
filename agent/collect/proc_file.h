// Reads a whole procfs file into a buffer that is reused from one read to the next, so a
// steady-state collection allocates nothing.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ipctrail {

class ProcFile {
 public:
  // Returns the file's text, or an errno value (ENOENT for a missing file) on failure.
  struct Result {
    std::string_view text;
    int error = 0;
  };
  Result read(const std::string& path);
  // The whole text of a file already open, read again from its start (pread from offset 0, which
  // also rewinds a seq_file's iterator), for a caller that keeps a procfs file open between reads.
  // For a seq_file whose records are at most `longest_record` bytes (0: not known), a read that
  // left more than that of a page unused was the last: seq_file fills each read from a buffer of
  // at least a page and stops short of the caller's size only at the end, or when the next record
  // does not fit (fs/seq_file.c seq_read_iter). That saves the read that would return 0, which
  // formats nothing but still costs a system call and a walk to the position (about 3 us of the
  // 10 to 30 us a small /proc/sysvipc table costs).
  Result read(int fd, std::size_t longest_record = 0);

 private:
  std::string buffer_;
};

}  // namespace ipctrail
