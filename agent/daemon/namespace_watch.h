// With `namespaces: all`, the IPC namespaces of the host other than the agent's own: found again
// every rescan period, each sampled every tick by the namespace sampler's worker
// (docs/design.md §9). The agent's own namespace is not here: it keeps the ordinary collector.
//
// Why the daemon tracks incarnations: the kernel reuses a gone namespace's inode for the next one,
// so an inode alone does not say whether a namespace is the one of the previous scan. One is taken
// to be the same while a process the previous scan saw in it is still in it; otherwise it is new.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/collect/collector.h"
#include "agent/namespaces/namespace_sampler.h"
#include "agent/namespaces/namespace_scan.h"
#include "model/sample.h"
#include "model/tick_record.h"

namespace ipctrail {

struct WatchedNamespace {
  NamespaceIdentity identity;
  bool new_incarnation = false;  // first seen in this tick (a reused inode counts as new)
  std::optional<Sample> sample;  // empty when it could not be sampled this tick (not gone)
};

class NamespaceWatch {
 public:
  using Clock = std::chrono::steady_clock;

  // With `task_iterator`, the rescan lists processes with the BPF task iterator where it loads
  // and lists what /proc would (bpf/namespace_iterator.h), reading /proc's links otherwise; the
  // log says which, once. `workers`: the sampler's threads (NamespaceSampler).
  NamespaceWatch(CollectorOptions collector, std::chrono::milliseconds rescan_period,
                 bool task_iterator = false,
                 std::size_t workers = NamespaceSampler::default_workers());

  // Rescans /proc when due (and on the first call), then samples every other namespace. A
  // namespace that went (at a rescan, or found empty by the worker) is left out, and is new again
  // should its inode come back. Logs namespaces coming and going, and what privilege is missing
  // when that changes.
  std::vector<WatchedNamespace> sample(Clock::time_point now);

 private:
  struct Known {
    NamespaceIdentity identity;
    std::vector<pid_t> pids;  // of the last scan
    bool reported = false;    // handed out at least once
  };

  void rescan();

  std::chrono::milliseconds rescan_period_;
  std::optional<Clock::time_point> next_rescan_;
  NamespaceScanner scanner_;
  NamespaceSampler sampler_;
  std::map<std::uint64_t, Known> known_;  // by inode: the namespaces of the last scan, not own
  std::string shortfall_;
  std::string worker_failure_;  // why the sampler's workers could not sample, as last logged
};

}  // namespace ipctrail
