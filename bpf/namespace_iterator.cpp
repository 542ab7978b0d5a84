#include "bpf/namespace_iterator.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/capability.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "bpf/bpf_probe.h"
#include "bpf/namespace_iterator.skel.h"
#include "bpf/namespace_iterator_record.h"
#include "model/capabilities.h"
#include "model/unique_fd.h"

namespace ipctrail {

namespace {

// The kernel's fixed inode for the initial pid namespace (PROC_PID_INIT_INO, 0xEFFFFFFC in
// include/linux/proc_ns.h).
constexpr std::string_view kInitialPidNamespaceLink = "pid:[4026531836]";

std::string link_text(const char* path) {
  char link[64];
  ssize_t length = ::readlink(path, link, sizeof link);
  return length > 0 ? std::string(link, static_cast<std::size_t>(length)) : std::string();
}

// The process is in the initial pid namespace, and so is the /proc it reads (its /proc/self is
// its own pid): the iterator's pids are then the ones /proc lists.
bool proc_numbers_pids_as_the_iterator() {
  return link_text("/proc/self/ns/pid") == kInitialPidNamespaceLink &&
         link_text("/proc/self") == std::to_string(::getpid());
}

}  // namespace

NamespaceIteratorOpening NamespaceIterator::open() {
  bpf_probe::route_libbpf_messages_to_log();

  NamespaceIteratorOpening opening;
  if (auto missing = bpf_probe::missing_privilege()) {
    opening.failure = *missing;
    return opening;
  }
  if (!has_effective_capability(CAP_SYS_PTRACE)) {
    opening.failure =
        "missing CAP_SYS_PTRACE: /proc refuses other users' namespace links, which the iterator "
        "would list anyway";
    return opening;
  }
  if (!proc_numbers_pids_as_the_iterator()) {
    opening.failure =
        "this process, or its /proc, is not in the initial pid namespace, whose pids the iterator "
        "gives";
    return opening;
  }
  namespace_iterator* skeleton = namespace_iterator__open_and_load();
  if (skeleton == nullptr) {
    opening.failure =
        fmt::format("the kernel refused the task iterator program: {}", std::strerror(errno));
    return opening;
  }
  bpf_link* link = bpf_program__attach_iter(skeleton->progs.list_ipc_namespaces, nullptr);
  if (link == nullptr) {
    opening.failure =
        fmt::format("the kernel refused to attach the task iterator: {}", std::strerror(errno));
    namespace_iterator__destroy(skeleton);
    return opening;
  }
  opening.iterator.reset(new NamespaceIterator(skeleton, link));
  return opening;
}

NamespaceIterator::~NamespaceIterator() {
  bpf_link__destroy(link_);
  namespace_iterator__destroy(skeleton_);
}

int NamespaceIterator::read(std::vector<std::pair<std::uint64_t, pid_t>>& members) {
  // Each read() runs the program over as many tasks as fill the kernel's buffer (8 pages), so a
  // buffer of that size takes the most records per system call.
  UniqueFd iteration(bpf_iter_create(bpf_link__fd(link_)));
  if (iteration.get() < 0) return errno;
  std::array<process_ipc_namespace, 32 * 1024 / sizeof(process_ipc_namespace)> records;
  for (;;) {
    ssize_t length = ::read(iteration.get(), records.data(), sizeof records);
    if (length < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (length == 0) return 0;
    // The program writes whole records only.
    std::size_t count = static_cast<std::size_t>(length) / sizeof(process_ipc_namespace);
    for (std::size_t i = 0; i < count; ++i) {
      members.emplace_back(records[i].inode, static_cast<pid_t>(records[i].tgid));
    }
  }
}

}  // namespace ipctrail
