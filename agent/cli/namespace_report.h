// `ipctrail sample --namespaces` and `--namespace NAME|INODE|all` output: the JSON contract and the
// tables for people (README "Every IPC namespace"). Each namespace's own sample is printed by
// report.h, unchanged.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/namespaces/namespace_owner.h"
#include "agent/namespaces/namespace_sampler.h"
#include "agent/namespaces/namespace_scan.h"

namespace ipctrail {

struct SampledNamespace {
  IpcNamespaceRef ref;
  NamespaceOwner owner;
  NamespaceSampleResult result;
};

struct NamespaceReport {
  std::int64_t ts_ms = 0;
  std::vector<SampledNamespace> namespaces;
  std::size_t processes_scanned = 0;
  std::size_t processes_denied = 0;
  std::string shortfall;  // privilege_shortfall(); empty when nothing was missing
};

// {"inode", "label", "owner": {"kind", "name"[, "container_id"][, "pod_uid"]}, "pid",
// "processes", "own"}: who a namespace is.
std::string namespace_identity_json(const IpcNamespaceRef& ref, const NamespaceOwner& owner);

// --namespaces: {"ts", "time", "namespaces": [{identity..., "summary": {...}} or
// {identity..., "error"}], "processes_scanned", "processes_denied", "incomplete"}.
std::string namespace_list_json(const NamespaceReport& report);
// One line per namespace: inode, owner, pid, processes, then used/limit of arrays, semaphores,
// queues and segments.
std::string namespace_list_table(const NamespaceReport& report);

// --namespace all: as the list, with each namespace's whole `sample --format json` document as
// "sample" instead of "summary".
std::string namespaces_json(const NamespaceReport& report);
// Each namespace's `sample` table under a heading naming it.
std::string namespaces_table(const NamespaceReport& report);

// The heading line of one namespace: "IPC namespace ipc:[4026532200] (host), pid 1".
std::string namespace_heading(const SampledNamespace& sampled);

}  // namespace ipctrail
