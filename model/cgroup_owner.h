// Names a person recognises for a cgroup (docs/design.md §7): what owns a cgroup v2 path — the
// host, a systemd unit, a container of Docker, containerd, CRI-O or Podman, or a Kubernetes pod —
// decided from the path alone, so that it works with nothing but cgroupfs (the packaged service
// cannot read other processes' /proc entries).
//
// The path is all this reads. Kubernetes pod names and namespaces, and container names, are not in
// it: they live in the runtimes' state (kubelet's /var/lib/kubelet/pods, containerd's and Docker's
// state directories, each runtime's own format and permissions) and are not read; a pod is named
// by its uid, a container by its id. A path that is not plainly one of the known shapes (any `.`
// or `..` component, an empty component, a byte outside printable ASCII, longer than PATH_MAX) is
// `other`, and its name is the path made printable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ipctrail {

enum class CgroupOwnerKind : std::uint8_t {
  kHost,           // the root, init.scope, or slices alone (system.slice, user.slice, ...)
  kSystemdUnit,    // the innermost *.service, *.scope, *.socket, *.mount or *.swap
  kDocker,         // /docker/<id> (cgroupfs driver), docker-<id>.scope (systemd driver)
  kContainerd,     // cri-containerd-<id>.scope, /k8s.io/<id>, nerdctl-<id>.scope
  kCrio,           // crio-<id>.scope, crio-conmon-<id>.scope (its monitor)
  kPodman,         // libpod-<id>.scope, libpod-conmon-<id>.scope (its monitor), libpod-payload-<id>
  kKubernetesPod,  // kubelet's pod cgroup (systemd or cgroupfs driver) and everything under it
  kOther,
};

// "host", "unit", "docker", "containerd", "cri-o", "podman", "pod", "other".
std::string_view to_string(CgroupOwnerKind kind);

// Kubernetes' QoS class of a pod, from the slice (or cgroupfs directory) kubelet puts it in.
enum class PodQosClass : std::uint8_t { kGuaranteed, kBurstable, kBestEffort };

// "Guaranteed", "Burstable", "BestEffort", as Kubernetes spells them.
std::string_view to_string(PodQosClass qos);

struct CgroupOwner {
  CgroupOwnerKind kind = CgroupOwnerKind::kOther;
  // Printable (ASCII, no control characters), at most 255 characters (a unit's name is kept whole,
  // as long as systemd allows; the others are shorter): "host", "apache2.service",
  // "docker:0123456789ab" (the id's first 12 characters, as `docker ps` shows it),
  // "podman:0123456789ab (conmon)", "pod:<uid>", or the printable path for `other`.
  std::string name;
  std::string container_id;            // the full 64-hex id, where the path has one
  std::string pod_uid;                 // kKubernetesPod: the uid with its dashes
  std::optional<PodQosClass> pod_qos;  // kKubernetesPod
  friend bool operator==(const CgroupOwner&, const CgroupOwner&) = default;
};

// `path` as in /proc/<pid>/cgroup's "0::/path", or relative to the cgroup2 mount ("/" is the
// root; the leading slash is optional). A container wins over what is around and inside it: the
// outermost container or pod in the path is the owner (a unit inside a container, a container
// inside a kind node, are the container's). Otherwise the innermost systemd unit.
CgroupOwner classify_cgroup_path(std::string_view path);

// The path with every byte outside printable ASCII, and the backslash, written as \xNN, cut to
// `max_length` characters (ending in "...") : safe to print, log or store as text.
std::string printable_cgroup_path(std::string_view path, std::size_t max_length = 160);

}  // namespace ipctrail
