// Reads a whole procfs file into a buffer that is reused from one read to the next, so a
// steady-state collection allocates nothing.
#pragma once

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
  Result read(int fd);

 private:
  std::string buffer_;
};

}  // namespace ipctrail
