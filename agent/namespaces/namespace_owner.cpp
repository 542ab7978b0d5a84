#include "agent/namespaces/namespace_owner.h"

#include <fmt/format.h>

namespace ipctrail {

NamespaceOwner namespace_owner(const IpcNamespaceRef& ref) {
  if (ref.host) return {"host", "host"};
  return {"unknown", ""};
}

std::string namespace_label(const IpcNamespaceRef& ref, const NamespaceOwner& owner) {
  return owner.name.empty() ? fmt::format("ipc:[{}]", ref.inode) : owner.name;
}

}  // namespace ipctrail
