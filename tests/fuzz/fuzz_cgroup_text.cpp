// cgroup text a stranger controls (docs/design.md §7): a cgroup path (anyone with a delegated
// subtree names directories as they like), /proc/<pid>/cgroup and /proc/self/mountinfo. Nothing
// may crash, and every name must come out printable and bounded.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/collect/cgroup_names.h"
#include "model/cgroup_owner.h"

namespace {

// A unit's name, kept whole, can be as long as systemd allows; every other name is shorter.
constexpr std::size_t kMaxName = 255;

void require_printable(std::string_view text, std::size_t max_length) {
  if (text.size() > max_length) std::abort();
  for (char c : text) {
    if (c < 0x20 || c > 0x7e) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ipctrail::CgroupOwner owner = ipctrail::classify_cgroup_path(text);
  require_printable(owner.name, kMaxName);
  if (!owner.container_id.empty() && owner.container_id.size() != 64) std::abort();
  require_printable(ipctrail::printable_cgroup_path(text, size % 200),
                    std::max<std::size_t>(size % 200, 3));
  if (std::optional<std::string> path = ipctrail::cgroup_path_in(text)) {
    require_printable(ipctrail::classify_cgroup_path(*path).name, kMaxName);
  }
  ipctrail::cgroup2_mount_in(text);
  return 0;
}
