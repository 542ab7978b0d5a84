// Who owns an IPC namespace, for people and labels: the host, or what the cgroup of a process in
// it names — a systemd unit, a container, a Kubernetes pod (docs/design.md §9; the cgroup names
// are model/cgroup_owner.h's).
#pragma once

#include <cstdint>
#include <string>

#include "agent/namespaces/namespace_scan.h"

namespace ipctrail {

struct NamespaceOwner {
  // "host" for the kernel's initial namespace; otherwise the kind of the representative's cgroup
  // ("unit", "docker", "containerd", "cri-o", "podman", "pod", "other"), or "unknown" when its
  // cgroup cannot be read or is the host's own (which names no one).
  std::string kind;
  std::string name;  // "host", "apache2.service", "docker:0123456789ab", ...; empty when unknown
  std::string container_id;  // the full id, where the cgroup path has one
  std::string pod_uid;       // for a Kubernetes pod
};

// Reads /proc/<pid>/cgroup of the namespace's representative (its first pid).
NamespaceOwner namespace_owner(const IpcNamespaceRef& ref);

// What people call the namespace: the owner's name, or "ipc:[<inode>]" when it has none.
std::string namespace_label(const IpcNamespaceRef& ref, const NamespaceOwner& owner);

}  // namespace ipctrail
