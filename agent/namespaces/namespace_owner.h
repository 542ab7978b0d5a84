// Who owns an IPC namespace, for people and labels: the host, or what the cgroup of a process in
// it names (docs/design.md §9).
#pragma once

#include <cstdint>
#include <string>

#include "agent/namespaces/namespace_scan.h"

namespace ipctrail {

struct NamespaceOwner {
  std::string kind;  // "host", or "unknown" when nothing names it
  std::string name;  // "host"; empty when unknown
};

// The kernel's initial namespace is the host's. Other namespaces are not named yet: only their
// inode labels them.
NamespaceOwner namespace_owner(const IpcNamespaceRef& ref);

// What people call the namespace: the owner's name, or "ipc:[<inode>]" when it has none.
std::string namespace_label(const IpcNamespaceRef& ref, const NamespaceOwner& owner);

}  // namespace ipctrail
