// Discovery of the host's IPC namespaces: the distinct /proc/<pid>/ns/ipc inodes over all
// processes, each with the processes found in it (docs/design.md §9).
//
// A namespace is known only through a process in it: the scan holds no descriptor, so it keeps no
// namespace alive, and a namespace whose last process exited is simply not found by the next scan.
// /proc is hostile input: pids vanish between readdir and readlink, links of other users'
// processes are refused (EACCES without CAP_SYS_PTRACE), and /proc may hide processes altogether
// (hidepid, systemd's ProtectProc=invisible); each of those is counted, never fatal.
#pragma once

#include <dirent.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/collect/proc_file.h"

namespace ipctrail {

struct IpcNamespaceRef {
  std::uint64_t inode = 0;  // of ipc:[<inode>]
  // The processes seen in it, the representative first: the one a worker enters the namespace
  // through, and whose cgroup names the owner. It is the oldest process (by start time) when the
  // namespace is first seen, and stays while it lives, so that the name is stable; the others are
  // fallbacks should it exit before the next scan. The agent's own namespace, sampled without
  // entering it and often holding most of the host's processes, is not searched for its oldest:
  // its pids are in pid order.
  std::vector<pid_t> pids;
  std::size_t processes = 0;  // how many processes were seen in it
  // The representative's start time (/proc/<pid>/stat starttime, clock ticks since boot); empty
  // when unknown, and for the own namespace.
  std::optional<std::uint64_t> start_ticks{};
  bool own = false;   // the namespace the scanning thread is in
  bool host = false;  // the kernel's initial IPC namespace
};

// The kernel gives its initial IPC namespace a fixed inode (PROC_IPC_INIT_INO, 0xEFFFFFFF in
// include/linux/proc_ns.h): the host's namespace is known by it even where pid 1 is hidden or
// refuses ptrace access.
inline constexpr std::uint64_t kHostIpcNamespaceInode = 0xEFFFFFFFu;

// Appends (IPC namespace inode, pid) of every process, faster than one readlink per process: the
// BPF task iterator (bpf/namespace_iterator.h), which the daemon hands in (this folder does not
// know bpf/). Returns 0, or an errno when it failed.
using ProcessNamespaceSource =
    std::function<int(std::vector<std::pair<std::uint64_t, pid_t>>& inode_and_pid)>;

struct NamespaceScan {
  std::vector<IpcNamespaceRef> namespaces;  // ordered by inode
  std::uint64_t own_inode = 0;
  std::size_t processes = 0;  // processes whose namespace was read
  std::size_t denied = 0;     // refused with EACCES/EPERM: other users' processes
  std::size_t vanished = 0;   // exited between readdir and readlink
  // Whether the processes came from the ProcessNamespaceSource rather than /proc's links (then
  // nothing is denied or vanishes: the kernel lists every process at once).
  bool from_source = false;
  int source_error = 0;  // the errno of a source that failed in this scan, which then read /proc

  const IpcNamespaceRef* find(std::uint64_t inode) const;
};

// The inode of a namespace link's text, "ipc:[4026531839]"; empty for anything else.
std::optional<std::uint64_t> parse_ipc_namespace_link(std::string_view link);

class NamespaceScanner {
 public:
  // With a source, the processes' namespaces come from it, and /proc's links are read only should
  // it fail; a source that failed once is not asked again (the scan says so once, in
  // source_error). The source must list the processes of this /proc, in its pid numbering.
  explicit NamespaceScanner(std::filesystem::path procfs_root = "/proc",
                            ProcessNamespaceSource source = {});

  // Lists every process's namespace once: from the source, or one readlink of each
  // /proc/<pid>/ns/ipc. Throws std::system_error only when /proc itself or the caller's own
  // namespace link cannot be read.
  const NamespaceScan& rescan();
  const NamespaceScan& last() const { return scan_; }

 private:
  using Members = std::vector<std::pair<std::uint64_t, pid_t>>;
  void read_proc_links(int proc_fd, DIR* listing, Members& members);
  std::optional<std::uint64_t> start_ticks(pid_t pid);

  std::filesystem::path root_;
  ProcessNamespaceSource source_;
  ProcFile file_;
  NamespaceScan scan_;
};

}  // namespace ipctrail
