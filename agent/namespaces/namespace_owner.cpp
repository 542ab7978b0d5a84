#include "agent/namespaces/namespace_owner.h"

#include <fmt/format.h>

#include "agent/collect/cgroup_names.h"
#include "model/cgroup_owner.h"

namespace ipctrail {

NamespaceOwner namespace_owner(const IpcNamespaceRef& ref) {
  if (ref.host) return {"host", "host", "", ""};
  NamespaceOwner unknown{"unknown", "", "", ""};
  if (ref.pids.empty()) return unknown;
  std::optional<std::string> path = cgroup_path_of_process(ref.pids.front());
  if (!path) return unknown;
  CgroupOwner owner = classify_cgroup_path(*path);
  // A process of a private namespace in a host cgroup (`unshare --ipc` from a root shell): the
  // cgroup names no one, and calling it "host" would confuse it with the host's namespace.
  if (owner.kind == CgroupOwnerKind::kHost) return unknown;
  return {std::string(to_string(owner.kind)), owner.name, owner.container_id, owner.pod_uid};
}

std::string namespace_label(const IpcNamespaceRef& ref, const NamespaceOwner& owner) {
  return owner.name.empty() ? fmt::format("ipc:[{}]", ref.inode) : owner.name;
}

}  // namespace ipctrail
