// Every process's IPC namespace in one read, from a BPF task iterator (namespace_iterator.bpf.c):
// what the namespace scan otherwise reads with one readlink of /proc/<pid>/ns/ipc per process, at
// some 5 us each (docs/design.md §9).
//
// It lists what /proc would, or is refused (the scan then reads /proc):
// - outside the initial pid namespace: the program reads task->tgid, the pid in the initial pid
//   namespace's numbering, while /proc shows an agent in a container its own pid namespace's
//   numbers. Refused there rather than translated.
// - without CAP_SYS_PTRACE: /proc refuses other users' links (and systemd's ProtectProc hides
//   their entries), which the kernel's task list would give anyway; the scan's count of refused
//   links is what tells the operator that privilege is missing.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

struct namespace_iterator;  // the generated skeleton
struct bpf_link;

namespace ipctrail {

class NamespaceIterator;

struct NamespaceIteratorOpening {
  std::unique_ptr<NamespaceIterator> iterator;
  std::string failure;  // why there is no iterator: privilege, kernel, pid namespace
};

class NamespaceIterator {
 public:
  // Loads and attaches the program; needs CAP_BPF with CAP_PERFMON, or CAP_SYS_ADMIN, and
  // CAP_SYS_PTRACE, a kernel with BTF and task iterators (5.8+), and this process in the initial
  // pid namespace.
  static NamespaceIteratorOpening open();

  NamespaceIterator(const NamespaceIterator&) = delete;
  NamespaceIterator& operator=(const NamespaceIterator&) = delete;
  ~NamespaceIterator();

  // Appends (IPC namespace inode, pid) of every live process the kernel has (thread-group leaders
  // not exiting). Returns 0, or the errno of the failed step (`members` then holds a part).
  int read(std::vector<std::pair<std::uint64_t, pid_t>>& members);

 private:
  NamespaceIterator(namespace_iterator* skeleton, bpf_link* link)
      : skeleton_(skeleton), link_(link) {}

  namespace_iterator* skeleton_;
  bpf_link* link_;
};

}  // namespace ipctrail
