// From a cgroup id to a name a person recognises (docs/design.md §7). BPF reports the caller's
// cgroup as bpf_get_current_cgroup_id(): the inode number of its directory in the cgroup v2
// hierarchy. CgroupNames walks that hierarchy (found in /proc/self/mountinfo, wherever it is
// mounted) to map inodes to paths, and classifies each path (model/cgroup_owner.h).
//
// Only cgroupfs is read: no other process's /proc entry, so it works under the packaged service's
// ProtectProc=invisible. Its cost is bounded and stated:
// - a walk opens and lists each cgroup directory once (one directory open at a time, whatever the
//   depth) and visits at most `max_walk` directories;
// - a walk happens on the first lookup and then only for an id not yet known, at most once per
//   `min_rescan_interval`: a stream of unknown ids cannot make it walk more often;
// - at most `max_names` names and `max_gone` ids known to be gone are kept, whatever the host does.
//
// Kernel cgroup ids are 64-bit and never reused while the system runs, so an id that a complete
// walk did not find is gone for good, and a name, once known, stays right for its id. Not
// thread-safe: one owner (the tick loop) asks.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "model/cgroup_owner.h"

namespace ipctrail {

// Where the cgroup v2 hierarchy is mounted, and which part of it the mount shows.
struct Cgroup2Mount {
  std::string mount_point;  // "/sys/fs/cgroup", "/sys/fs/cgroup/unified" on hybrid hosts
  std::string root = "/";   // the mount's root within the hierarchy (not "/" in a cgroup namespace)
  friend bool operator==(const Cgroup2Mount&, const Cgroup2Mount&) = default;
};

// The cgroup2 mount in a /proc/<pid>/mountinfo text: the first that shows the whole hierarchy,
// else the first at all; none on a host with cgroup v1 alone.
std::optional<Cgroup2Mount> cgroup2_mount_in(std::string_view mountinfo);

// The path that names the owner of a process, in a /proc/<pid>/cgroup text. On a cgroup v2 host
// that is the one line there, "0::/path". A hybrid host (v1 controllers beside the v2 tree) also
// has the v1 name=systemd hierarchy, which systemd keeps the same as the v2 tree for its units, and
// where container runtimes in v1 mode put their containers while the v2 line says "/" or the
// runtime's own service: there a name=systemd path other than "/" is returned. The v2 path
// otherwise; none when the text has neither.
std::optional<std::string> cgroup_path_in(std::string_view proc_pid_cgroup);

// cgroup_path_in(/proc/<pid>/cgroup); none when the process is gone or its /proc is hidden.
std::optional<std::string> cgroup_path_of_process(pid_t pid);

struct CgroupName {
  enum class State : std::uint8_t {
    kKnown,    // path and owner are set
    kGone,     // removed before a walk could see it
    kUnknown,  // not seen yet, and no walk allowed now (rate limit, bound, or no cgroupfs)
  };
  State state = State::kUnknown;
  std::string path;  // as in /proc/<pid>/cgroup; raw bytes: print through printable_cgroup_path()
  CgroupOwner owner;
  // owner.name, "cgroup <id> (gone)" or "cgroup <id>".
  std::string display;
};

struct CgroupNamesOptions {
  std::chrono::steady_clock::duration min_rescan_interval = std::chrono::seconds(5);
  std::size_t max_names = 16384;
  std::size_t max_gone = 4096;
  std::size_t max_walk = 100000;
};

class CgroupNames {
 public:
  explicit CgroupNames(CgroupNamesOptions options = {});

  // Walks at most once per call (see above). kUnknown answers are not remembered: asking again
  // after the interval walks again.
  CgroupName resolve(std::uint64_t cgroup_id);

  // Walks so far, for the log and the tests of the bounds.
  std::uint64_t walks() const { return walks_; }
  std::size_t names_held() const { return names_.size(); }

 private:
  struct Entry {
    std::string path;
    CgroupOwner owner;
    std::uint64_t last_walk = 0;  // the walk that last saw it
  };
  // Returns true if the walk was complete (the whole tree seen).
  bool walk(std::uint64_t wanted);
  void remember_gone(std::uint64_t cgroup_id);
  CgroupName known(const Entry& entry) const;

  CgroupNamesOptions options_;
  std::unordered_map<std::uint64_t, Entry> names_;
  std::unordered_set<std::uint64_t> gone_;
  std::deque<std::uint64_t> gone_order_;  // oldest first, to forget the oldest beyond max_gone
  std::optional<std::chrono::steady_clock::time_point> last_walk_at_;
  std::uint64_t walks_ = 0;
  bool reported_unavailable_ = false;  // the missing cgroupfs is logged once
};

}  // namespace ipctrail
