// Samples IPC namespaces other than the agent's own with the ordinary collector, from a worker
// thread that enters each one with setns(CLONE_NEWIPC) and leaves it again (docs/design.md §9).
//
// Why a thread: an IPC namespace belongs to a thread, not to the process (setns moves only the
// caller, and /proc/sysvipc, /proc/sys/kernel and *ctl answer for the caller's namespace), so the
// agent's own threads never change namespace and nothing is ever run inside a container. Why a
// thread per call: should the worker fail to return to its namespace, it ends with it.
//
// Descriptors: a namespace is entered through /proc/<pid>/ns/ipc of a process the last scan saw in
// it, opened just before setns and closed at once, after checking its inode. Holding descriptors
// between ticks would keep a namespace alive after its last process exited, and it would never be
// seen to go; with none held, a namespace with no process left is gone at the next scan.
#pragma once

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

namespace ipctrail {

// Why a namespace was not sampled.
enum class NamespaceFailure {
  kNone,
  kGone,          // no process of the last scan is in it any more
  kNeedsPtrace,   // /proc/<pid>/ns/ipc refused (EACCES): ptrace read access, CAP_SYS_PTRACE
  kNeedsSysAdmin  // setns refused (EPERM): CAP_SYS_ADMIN over the namespace
};

struct NamespaceSampleResult {
  std::uint64_t inode = 0;
  std::optional<Sample> sample;  // empty when it could not be sampled
  NamespaceFailure failure = NamespaceFailure::kNone;
  std::string error;  // the failed call and its errno, for people
};

class NamespaceSampler {
 public:
  explicit NamespaceSampler(CollectorOptions options);

  // One result per target, in the same order. The own namespace is collected on the calling
  // thread while the worker visits the others. Each namespace keeps its own Collector (its limits
  // cache, its queue capacities) from call to call; those of namespaces not asked for are dropped.
  std::vector<NamespaceSampleResult> sample(const std::vector<IpcNamespaceRef>& targets);

 private:
  // On the worker: enters the namespace through one of its processes, collects, returns. False
  // when the worker could not return to its own namespace and must stop.
  bool sample_inside(const IpcNamespaceRef& target, int home_fd, NamespaceSampleResult& result);

  CollectorOptions options_;
  std::map<std::uint64_t, std::unique_ptr<Collector>> collectors_;
};

// One line saying what kept namespaces from being sampled and which capability would give it;
// empty when nothing did.
std::string privilege_shortfall(const NamespaceScan& scan,
                                const std::vector<NamespaceSampleResult>& results);

}  // namespace ipctrail
