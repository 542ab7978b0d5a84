// Test support for the Prometheus export: promtool, scratch directories, synthetic samples.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "model/sample.h"
#include "tests/support/run_command.h"

namespace ipctrail::testing {

// `promtool check metrics` on `exposition`: exit code 0 and no output means accepted, lint-clean.
CommandResult promtool_check_metrics(const std::string& exposition);

// A fresh directory under /tmp, removed with everything in it.
class ScratchDirectory {
 public:
  ScratchDirectory();
  ~ScratchDirectory();
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A sample with every part present, `queues` queues (msqid 100+i, key 0x1000+i, i messages of
// 10 bytes each) and the largest limits the kernel reports.
Sample synthetic_sample(std::size_t queues);

// A loopback port nobody listens on right now.
std::uint16_t free_loopback_port();

// The value of the one line `series` (e.g. `ipctrail_limit{name="semmni"}`), or "" when absent.
std::string series_value(const std::string& exposition, const std::string& series);

}  // namespace ipctrail::testing
