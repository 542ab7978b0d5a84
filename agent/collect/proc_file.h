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

 private:
  std::string buffer_;
};

}  // namespace ipctrail
