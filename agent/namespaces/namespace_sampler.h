// Samples IPC namespaces other than the agent's own with the ordinary collector, from worker
// threads that enter each one with setns(CLONE_NEWIPC) and leave it again (docs/design.md §9).
//
// Why threads: an IPC namespace belongs to a thread, not to the process (setns moves only the
// caller, and /proc/sysvipc, /proc/sys/kernel and *ctl answer for the caller's namespace), so the
// agent's own threads never change namespace and nothing is ever run inside a container. Why
// threads per call: should a worker fail to return to its namespace, it ends with it. Why several:
// the namespaces are independent (each has its own collector and descriptors), and most of a
// tick is the kernel formatting their /proc/sysvipc text on the reading thread's CPU; a worker per
// usable CPU shortens the tick, though not its CPU time.
//
// Descriptors: a namespace is first entered through /proc/<pid>/ns/ipc of a process the last scan
// saw in it, after checking the link's inode (the pid may have been reused). That descriptor, a
// pidfd of that process and the namespace's /proc/sysvipc files, opened inside, are then kept from
// tick to tick, so a tick costs a pread per table, no open or close; and since those files answer
// for their namespace from anywhere, a worker enters (setns there and back) only for what must
// run inside: a new or changed queue's msgctl, the limits once a minute (Collector::collect with
// an `enter`).
// Held descriptors keep a namespace alive after its last process exited, so every tick first polls
// the pidfds of all held namespaces at once; for one whose process exited, the other processes of
// the last scan are looked at (readlink of /proc/<pid>/ns/ipc), and when none is in it the
// namespace is reported gone and its descriptors are closed at once. Descriptors are bounded (5 a
// namespace, a quarter of RLIMIT_NOFILE at most); namespaces beyond are entered through
// /proc/<pid>/ns/ipc each tick.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/collect/collector.h"
#include "agent/namespaces/namespace_scan.h"
#include "model/sample.h"
#include "model/unique_fd.h"

namespace ipctrail {

// Why a namespace was not sampled.
enum class NamespaceFailure {
  kNone,
  kGone,           // no process of the last scan is in it any more
  kNeedsPtrace,    // /proc/<pid>/ns/ipc refused (EACCES): ptrace read access, CAP_SYS_PTRACE
  kNeedsSysAdmin,  // setns refused (EPERM): CAP_SYS_ADMIN over the namespace
  kNoWorker        // no worker took it this tick (none could start, or each had to stop): not gone
};

struct NamespaceSampleResult {
  std::uint64_t inode = 0;
  std::optional<Sample> sample;  // empty when it could not be sampled
  NamespaceFailure failure = NamespaceFailure::kNone;
  std::string error;  // the failed call and its errno, for people
};

class NamespaceSampler {
 public:
  // At most `workers` threads sample the other namespaces, never more than there are of them.
  explicit NamespaceSampler(CollectorOptions options, std::size_t workers = default_workers());

  // One per CPU the agent may run on, kMostWorkers at most: on a host with many namespaces the
  // agent should not take many of the CPUs of the host it watches at the same instant.
  static constexpr std::size_t kMostWorkers = 4;
  static std::size_t default_workers();

  // One result per target, in the same order. The own namespace is collected on the calling
  // thread while the workers visit the others. Each namespace keeps its own Collector (its limits
  // cache, its queue capacities, its open tables) and descriptor from call to call; those of
  // namespaces not asked for, or found gone, are dropped (and their descriptors closed).
  std::vector<NamespaceSampleResult> sample(const std::vector<IpcNamespaceRef>& targets);

  // Namespaces whose descriptors are held between calls.
  std::size_t namespaces_held() const { return held_; }

 private:
  struct Watched {
    std::unique_ptr<Collector> collector;
    bool holds = false;  // within the descriptor budget: keeps `entry` and the collector's tables
    UniqueFd entry;      // the namespace's own descriptor, for setns
    UniqueFd process;    // a pidfd of a process in it, held with `entry`
    bool process_exited = false;  // as this call's poll found it
    // Collected into from tick to tick, so that its vectors keep their capacity; each result is
    // a copy, made at the objects' exact sizes.
    Sample sample;
  };

  // On the worker: enters the namespace, collects, returns. False when the worker could not
  // return to its own namespace and must stop.
  bool sample_inside(const IpcNamespaceRef& target, Watched& watched, int home_fd,
                     NamespaceSampleResult& result);
  // Opens /proc/<pid>/ns/ipc of one of the target's processes; an empty descriptor, with the
  // failure in `result`, when none is in it any more or none could be opened.
  UniqueFd open_entry(const IpcNamespaceRef& target, NamespaceSampleResult& result,
                      pid_t& opened_pid);
  // One poll over the pidfds of the held namespaces: which process exited since the last call.
  void poll_processes();
  void forget(std::map<std::uint64_t, Watched>::iterator watched);

  CollectorOptions options_;
  std::size_t workers_;
  std::size_t hold_limit_;  // namespaces whose descriptors may be held
  std::size_t held_ = 0;
  std::map<std::uint64_t, Watched> watched_;
  std::vector<pollfd> polled_;  // kept from call to call
};

// One line saying what kept namespaces from being sampled and which capability would give it;
// empty when nothing did.
std::string privilege_shortfall(const NamespaceScan& scan,
                                const std::vector<NamespaceSampleResult>& results);

}  // namespace ipctrail
