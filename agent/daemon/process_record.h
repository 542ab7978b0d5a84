// What the agent stores of the per-process BPF reading (docs/design.md §6): the tick's counts and
// lifecycle events as read, each caller's cgroup resolved to its owner's name (only the agent can:
// the cgroup may be gone by the time anyone reads the history), and what the kernel structures
// lost in this tick.
#pragma once

#include <cstdint>
#include <unordered_set>

#include "agent/collect/cgroup_names.h"
#include "model/sample.h"
#include "model/tick_record.h"

namespace ipctrail {

class ProcessRecorder {
 public:
  // Sets tick.processes from sample.processes (empty when BPF did not count per process). The
  // sample's losses count since counting started: the tick gets the increase since the previous
  // reading, or the whole count when it went backwards (the counter was opened anew). A cgroup's
  // owner is its unit or container ("apache2.service", "docker:4f6c2b1a9e8d"), "cgroup <id> (gone)"
  // for one removed before it could be named, and left out while not known yet (a later tick may
  // name it: the tick that does puts it in late_cgroup_owners).
  void fill(const Sample& sample, TickRecord& tick);

 private:
  // Cgroups whose owner was not known when their processes were stored, at most this many.
  static constexpr std::size_t kMaxUnnamed = 1024;

  CgroupNames cgroups_;
  std::unordered_set<std::uint64_t> unnamed_;
  std::uint64_t calls_not_attributed_ = 0;
  std::uint64_t events_lost_ = 0;
};

}  // namespace ipctrail
