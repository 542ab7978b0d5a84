// The BPF part of a tick: reads the IPC call counters into the Sample, and applies the
// `bpf.enabled` policy (auto: use BPF when it works, else say why once and go on without it;
// true: refuse to start without it; false: never try).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>

#include "bpf/ipc_call_counter.h"
#include "model/ipc_call_counts.h"
#include "model/sample.h"

namespace ipctrail {

struct BpfOptions {
  BpfEnabled enabled = BpfEnabled::kAuto;
  BpfMode mode = BpfMode::kAuto;
  // While BPF is unavailable under `auto`, how often to try again (silently): mounting tracefs
  // or granting a capability later then takes effect without a restart.
  std::chrono::steady_clock::duration retry_interval = std::chrono::minutes(1);
  // Count the calls of every other IPC namespace too, by namespace (`namespaces: all`).
  bool every_namespace = false;

  friend bool operator==(const BpfOptions&, const BpfOptions&) = default;
};

// Thrown when bpf.enabled is true and BPF cannot be used; what() is the reason and the fix.
class BpfUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class IpcCallCollector {
 public:
  // Attaches at once unless enabled is false; throws BpfUnavailable when enabled is true and
  // attaching fails.
  explicit IpcCallCollector(BpfOptions options);
  ~IpcCallCollector();

  // Sets sample.ipc_calls to the cumulative counts and, from the second reading on, the calls
  // since the previous reading, and sample.processes to the per-process counts and lifecycle
  // events since the previous reading; clears both while BPF is off or unavailable.
  void collect(Sample& sample);

  // With every namespace counted, the calls of the namespace `inode` for its own Sample, as
  // collect() read them: the interval's exact counts, and totals since the agent first asked for
  // that namespace (since this reading for a new incarnation, whose inode another namespace may
  // have had). A namespace not asked for between two readings is forgotten. Empty when every
  // namespace is not counted.
  std::optional<IpcCallActivity> namespace_calls(std::uint32_t inode, bool new_incarnation);

  bool counting() const { return counter_ != nullptr; }

 private:
  struct Reading {
    IpcCallCounts counts;
    std::chrono::steady_clock::time_point at;
  };

  void try_attach();
  void forget_readings();

  BpfOptions options_;
  std::unique_ptr<IpcCallCounter> counter_;
  std::optional<Reading> previous_;
  IpcCallLosses losses_;
  // Every other namespace's calls: the latest reading's, its interval (none on the first reading),
  // the totals of the namespaces asked for, and those asked for since the latest reading.
  NamespaceCallCounts namespace_interval_;
  std::optional<std::chrono::nanoseconds> interval_;
  std::map<std::uint32_t, IpcCallCounts> namespace_totals_;
  std::set<std::uint32_t> namespaces_asked_;
  std::chrono::steady_clock::time_point next_attempt_;
  bool failure_logged_ = false;
};

}  // namespace ipctrail
