// Reads a whole procfs file into a buffer that is reused from one read to the next, so a
// steady-state collection allocates nothing. The buffer is never zero-filled: only the pages a
// read writes become resident, so a collector per IPC namespace (namespaces: all) costs the size
// of its tables, not a 256 KiB read buffer each.
#pragma once

#include <cstddef>
#include <memory>
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
  // Grows to the largest text read plus one read's room.
  void reserve(std::size_t size, std::size_t used);

  std::unique_ptr<char[]> buffer_;
  std::size_t capacity_ = 0;
};

}  // namespace ipctrail
