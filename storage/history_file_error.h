// The error every history command reports as a usage error: the file is not one it can use.
#pragma once

#include <stdexcept>

namespace ipctrail {

// The file is not an ipctrail history file, or one this build cannot read (newer, or older and
// opened read-only). Commands report it as a usage error (exit 2).
class HistoryFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace ipctrail
