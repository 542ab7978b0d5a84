// What the agent stores of the per-process BPF reading (docs/design.md §6): the tick's counts and
// lifecycle events as read, each caller's cgroup resolved to its owner's name (only the agent can:
// the cgroup may be gone by the time anyone reads the history), and what the kernel structures
// lost in this tick.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "model/sample.h"
#include "model/tick_record.h"

namespace ipctrail {

// The owner of a cgroup ("apache2.service", "docker:abc123"); none when not known.
using CgroupOwnerLookup = std::function<std::optional<std::string>(std::uint64_t cgroup_id)>;

class ProcessRecorder {
 public:
  explicit ProcessRecorder(CgroupOwnerLookup owner_of);

  // Sets tick.processes from sample.processes (empty when BPF did not count per process). The
  // sample's losses count since counting started: the tick gets the increase since the previous
  // reading, or the whole count when it went backwards (the counter was opened anew).
  void fill(const Sample& sample, TickRecord& tick);

 private:
  CgroupOwnerLookup owner_of_;
  std::uint64_t calls_not_attributed_ = 0;
  std::uint64_t events_lost_ = 0;
};

}  // namespace ipctrail
