#include "model/cgroup_owner.h"

#include <algorithm>
#include <array>
#include <vector>

namespace ipctrail {

namespace {

// PATH_MAX: no path the kernel hands out through /proc/<pid>/cgroup or a walk is longer.
constexpr std::size_t kMaxPathLength = 4096;
// systemd's UNIT_NAME_MAX, the terminating NUL excluded.
constexpr std::size_t kMaxUnitNameLength = 255;
// Docker, containerd (CRI and nerdctl), CRI-O and Podman all name containers by 64 hex digits.
constexpr std::size_t kContainerIdLength = 64;
// `docker ps` and `podman ps` show the first 12.
constexpr std::size_t kShortIdLength = 12;

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool is_container_id(std::string_view text) {
  return text.size() == kContainerIdLength && std::all_of(text.begin(), text.end(), is_hex);
}

// The text between `prefix` and `suffix`, if `text` has both.
std::optional<std::string_view> between(std::string_view text, std::string_view prefix,
                                        std::string_view suffix) {
  if (text.size() < prefix.size() + suffix.size() || !text.starts_with(prefix) ||
      !text.ends_with(suffix)) {
    return std::nullopt;
  }
  return text.substr(prefix.size(), text.size() - prefix.size() - suffix.size());
}

struct ContainerScope {
  CgroupOwnerKind kind;
  std::string_view id;
  bool monitor;  // the runtime's conmon process beside the container, not the container
};

// One component naming a container by its runtime's convention. The systemd drivers make a
// `<prefix>-<id>.scope`; CRI-O's and Podman's cgroupfs drivers the same name without ".scope".
std::optional<ContainerScope> container_scope(std::string_view component) {
  struct Convention {
    std::string_view prefix;
    CgroupOwnerKind kind;
    bool monitor;
    bool scope_only;
  };
  // "crio-conmon-<id>" cannot pass for "crio-<id>": an id is hex digits only.
  static constexpr std::array<Convention, 8> kConventions = {{
      {"docker-", CgroupOwnerKind::kDocker, false, true},
      {"cri-containerd-", CgroupOwnerKind::kContainerd, false, true},
      {"nerdctl-", CgroupOwnerKind::kContainerd, false, true},
      {"crio-conmon-", CgroupOwnerKind::kCrio, true, false},
      {"crio-", CgroupOwnerKind::kCrio, false, false},
      {"libpod-conmon-", CgroupOwnerKind::kPodman, true, false},
      {"libpod-payload-", CgroupOwnerKind::kPodman, false, false},  // --cgroups=split
      {"libpod-", CgroupOwnerKind::kPodman, false, false},
  }};
  for (const Convention& convention : kConventions) {
    std::optional<std::string_view> id = between(component, convention.prefix, ".scope");
    if (!id && !convention.scope_only) id = between(component, convention.prefix, "");
    if (id && is_container_id(*id)) return ContainerScope{convention.kind, *id, convention.monitor};
  }
  return std::nullopt;
}

// A bare id under the runtime's cgroupfs parent: /docker/<id>, containerd's /k8s.io/<id>.
std::optional<ContainerScope> container_directory(std::string_view parent,
                                                  std::string_view component) {
  if (!is_container_id(component)) return std::nullopt;
  if (parent == "docker") return ContainerScope{CgroupOwnerKind::kDocker, component, false};
  if (parent == "k8s.io") return ContainerScope{CgroupOwnerKind::kContainerd, component, false};
  return std::nullopt;
}

// kubelet's pod uid: a UUID, or 32 hex digits for a static pod. The systemd driver writes its
// dashes as underscores ("-" separates slice levels); they are given back.
std::optional<std::string> pod_uid(std::string_view text) {
  if (text.empty() || text.size() > kContainerIdLength) return std::nullopt;
  std::string uid;
  for (char c : text) {
    if (c == '_') c = '-';
    if (!is_hex(c) && c != '-') return std::nullopt;
    uid.push_back(c);
  }
  return uid;
}

struct Pod {
  std::string uid;
  PodQosClass qos;
};

// kubelet's systemd driver: kubepods[-burstable|-besteffort]-pod<uid>.slice, possibly under a
// prefix of its own (`kubelet-kubepods-...` in kind nodes).
std::optional<Pod> systemd_pod_slice(std::string_view component) {
  if (!component.ends_with(".slice")) return std::nullopt;
  std::string_view stem = component.substr(0, component.size() - 6);
  std::size_t pod = stem.rfind("-pod");
  if (pod == std::string_view::npos) return std::nullopt;
  std::string_view parent = stem.substr(0, pod);
  std::optional<std::string> uid = pod_uid(stem.substr(pod + 4));
  if (!uid) return std::nullopt;
  struct Level {
    std::string_view slice;
    PodQosClass qos;
  };
  static constexpr std::array<Level, 3> kLevels = {
      {{"kubepods-burstable", PodQosClass::kBurstable},
       {"kubepods-besteffort", PodQosClass::kBestEffort},
       {"kubepods", PodQosClass::kGuaranteed}}};
  for (const Level& level : kLevels) {
    if (parent == level.slice ||
        (parent.size() > level.slice.size() && parent.ends_with(level.slice) &&
         parent[parent.size() - level.slice.size() - 1] == '-')) {
      return Pod{*uid, level.qos};
    }
  }
  return std::nullopt;
}

// kubelet's cgroupfs driver: kubepods/pod<uid> (Guaranteed),
// kubepods/{burstable,besteffort}/pod<uid>.
std::optional<Pod> cgroupfs_pod_directory(const std::vector<std::string_view>& components,
                                          std::size_t index) {
  std::string_view component = components[index];
  if (!component.starts_with("pod") || index == 0) return std::nullopt;
  std::optional<std::string> uid = pod_uid(component.substr(3));
  if (!uid) return std::nullopt;
  std::string_view parent = components[index - 1];
  if (parent == "kubepods") return Pod{*uid, PodQosClass::kGuaranteed};
  if (index >= 2 && components[index - 2] == "kubepods") {
    if (parent == "burstable") return Pod{*uid, PodQosClass::kBurstable};
    if (parent == "besteffort") return Pod{*uid, PodQosClass::kBestEffort};
  }
  return std::nullopt;
}

bool is_unit_name_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
         c == '_' || c == '.' || c == '\\' || c == '@' || c == '-';
}

// A unit that holds processes (slices only group them).
bool is_process_unit(std::string_view component) {
  static constexpr std::array<std::string_view, 5> kSuffixes = {".service", ".scope", ".socket",
                                                                ".mount", ".swap"};
  if (component.size() > kMaxUnitNameLength ||
      !std::all_of(component.begin(), component.end(), is_unit_name_character)) {
    return false;
  }
  return std::any_of(kSuffixes.begin(), kSuffixes.end(), [&](std::string_view suffix) {
    return component.size() > suffix.size() && component.ends_with(suffix);
  });
}

std::string short_container_name(const ContainerScope& container) {
  std::string name(to_string(container.kind));
  name += ':';
  name += container.id.substr(0, kShortIdLength);
  if (container.monitor) name += " (conmon)";
  return name;
}

CgroupOwner other(std::string_view path) {
  return CgroupOwner{CgroupOwnerKind::kOther, printable_cgroup_path(path), {}, {}, {}};
}

CgroupOwner host() {
  return CgroupOwner{CgroupOwnerKind::kHost, "host", {}, {}, {}};
}

// The components of a well-formed path, or nothing for one that is not plainly a cgroup's.
std::optional<std::vector<std::string_view>> components_of(std::string_view path) {
  if (path.empty() || path.size() > kMaxPathLength) return std::nullopt;
  if (!std::all_of(path.begin(), path.end(), [](char c) { return c >= 0x20 && c <= 0x7e; })) {
    return std::nullopt;
  }
  if (path.front() == '/') path.remove_prefix(1);
  std::vector<std::string_view> components;
  if (path.empty()) return components;  // the root
  for (;;) {
    std::size_t slash = path.find('/');
    std::string_view component = path.substr(0, slash);
    if (component.empty() || component == "." || component == "..") return std::nullopt;
    components.push_back(component);
    if (slash == std::string_view::npos) return components;
    path.remove_prefix(slash + 1);
  }
}

}  // namespace

std::string_view to_string(CgroupOwnerKind kind) {
  switch (kind) {
    case CgroupOwnerKind::kHost:
      return "host";
    case CgroupOwnerKind::kSystemdUnit:
      return "unit";
    case CgroupOwnerKind::kDocker:
      return "docker";
    case CgroupOwnerKind::kContainerd:
      return "containerd";
    case CgroupOwnerKind::kCrio:
      return "cri-o";
    case CgroupOwnerKind::kPodman:
      return "podman";
    case CgroupOwnerKind::kKubernetesPod:
      return "pod";
    case CgroupOwnerKind::kOther:
      break;
  }
  return "other";
}

std::string_view to_string(PodQosClass qos) {
  switch (qos) {
    case PodQosClass::kGuaranteed:
      return "Guaranteed";
    case PodQosClass::kBurstable:
      return "Burstable";
    case PodQosClass::kBestEffort:
      break;
  }
  return "BestEffort";
}

CgroupOwner classify_cgroup_path(std::string_view path) {
  std::optional<std::vector<std::string_view>> components = components_of(path);
  if (!components) return other(path);

  // The outermost container or pod owns everything beneath it.
  for (std::size_t i = 0; i < components->size(); ++i) {
    std::optional<Pod> pod = systemd_pod_slice((*components)[i]);
    if (!pod) pod = cgroupfs_pod_directory(*components, i);
    if (pod) {
      CgroupOwner owner{CgroupOwnerKind::kKubernetesPod, "pod:" + pod->uid, {}, pod->uid, pod->qos};
      if (i + 1 < components->size()) {
        std::string_view inner = (*components)[i + 1];
        if (std::optional<ContainerScope> container = container_scope(inner)) {
          owner.container_id = container->id;
        } else if (is_container_id(inner)) {
          owner.container_id = inner;
        }
      }
      return owner;
    }
    std::optional<ContainerScope> container = container_scope((*components)[i]);
    if (!container && i > 0)
      container = container_directory((*components)[i - 1], (*components)[i]);
    if (container) {
      return CgroupOwner{
          container->kind, short_container_name(*container), std::string(container->id), {}, {}};
    }
  }

  // Otherwise the innermost unit; the init.scope of a user's manager is that manager.
  for (std::size_t i = components->size(); i-- > 0;) {
    std::string_view unit = (*components)[i];
    if (!is_process_unit(unit)) continue;
    if (unit == "init.scope") {
      if (i == 0) return host();
      if ((*components)[i - 1].starts_with("user@")) unit = (*components)[i - 1];
    }
    return CgroupOwner{CgroupOwnerKind::kSystemdUnit, std::string(unit), {}, {}, {}};
  }
  if (std::all_of(components->begin(), components->end(),
                  [](std::string_view component) { return component.ends_with(".slice"); })) {
    return host();
  }
  return other(path);
}

std::string printable_cgroup_path(std::string_view path, std::size_t max_length) {
  static constexpr std::string_view kEllipsis = "...";
  max_length = std::max(max_length, kEllipsis.size());
  auto escaped = [](char c) { return c < 0x20 || c > 0x7e || c == '\\'; };
  std::size_t full_length = 0;
  for (char c : path) full_length += escaped(c) ? 4 : 1;
  std::size_t budget = full_length <= max_length ? full_length : max_length - kEllipsis.size();

  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string text;
  text.reserve(std::min(full_length, max_length));
  for (char c : path) {
    std::size_t width = escaped(c) ? 4 : 1;
    if (text.size() + width > budget) break;
    if (width == 1) {
      text.push_back(c);
    } else {
      auto byte = static_cast<unsigned char>(c);
      text += "\\x";
      text.push_back(kHex[byte >> 4]);
      text.push_back(kHex[byte & 0xf]);
    }
  }
  if (full_length > max_length) text += kEllipsis;
  return text;
}

}  // namespace ipctrail
