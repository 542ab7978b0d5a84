#include "agent/namespaces/namespace_scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "agent/collect/process_stat.h"

namespace ipctrail {

namespace {

// Closes a descriptor or a directory stream when the scan leaves, however it leaves.
struct DirectoryStream {
  DIR* dir = nullptr;
  ~DirectoryStream() {
    if (dir != nullptr) ::closedir(dir);
  }
};

std::optional<pid_t> parse_pid(const char* name) {
  std::string_view text(name);
  pid_t pid = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (error != std::errc{} || end != text.data() + text.size() || pid <= 0) return std::nullopt;
  return pid;
}

// readlinkat into a fixed buffer: a namespace link is "ipc:[<20 digits>]" at most.
std::optional<std::uint64_t> read_namespace_link(int dir_fd, const std::string& relative,
                                                 int& error) {
  char link[64];
  ssize_t length = ::readlinkat(dir_fd, relative.c_str(), link, sizeof link);
  if (length < 0) {
    error = errno;
    return std::nullopt;
  }
  error = 0;
  return parse_ipc_namespace_link(std::string_view(link, static_cast<std::size_t>(length)));
}

}  // namespace

std::optional<std::uint64_t> parse_ipc_namespace_link(std::string_view link) {
  constexpr std::string_view kPrefix = "ipc:[";
  if (!link.starts_with(kPrefix) || !link.ends_with(']')) return std::nullopt;
  std::string_view digits = link.substr(kPrefix.size(), link.size() - kPrefix.size() - 1);
  std::uint64_t inode = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), inode);
  if (error != std::errc{} || end != digits.data() + digits.size() || digits.empty()) {
    return std::nullopt;
  }
  return inode;
}

const IpcNamespaceRef* NamespaceScan::find(std::uint64_t inode) const {
  auto found = std::lower_bound(
      namespaces.begin(), namespaces.end(), inode,
      [](const IpcNamespaceRef& ref, std::uint64_t wanted) { return ref.inode < wanted; });
  return found != namespaces.end() && found->inode == inode ? &*found : nullptr;
}

NamespaceScanner::NamespaceScanner(std::filesystem::path procfs_root, ProcessNamespaceSource source)
    : root_(std::move(procfs_root)), source_(std::move(source)) {}

std::optional<std::uint64_t> NamespaceScanner::start_ticks(pid_t pid) {
  ProcFile::Result stat = file_.read((root_ / std::to_string(pid) / "stat").string());
  if (stat.error != 0) return std::nullopt;
  return parse_process_start_ticks(stat.text);
}

void NamespaceScanner::read_proc_links(int proc_fd, DIR* listing, Members& members) {
  std::string relative;
  int error = 0;
  while (dirent* entry = ::readdir(listing)) {
    std::optional<pid_t> pid = parse_pid(entry->d_name);
    if (!pid) continue;
    relative.assign(entry->d_name);
    relative += "/ns/ipc";
    std::optional<std::uint64_t> inode = read_namespace_link(proc_fd, relative, error);
    if (!inode) {
      if (error == ENOENT || error == ESRCH) {
        ++scan_.vanished;
      } else {
        ++scan_.denied;
      }
      continue;
    }
    ++scan_.processes;
    members.emplace_back(*inode, *pid);
  }
}

const NamespaceScan& NamespaceScanner::rescan() {
  int dir_fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) throw std::system_error(errno, std::generic_category(), "open " + root_.string());
  DirectoryStream stream{::fdopendir(dir_fd)};
  if (stream.dir == nullptr) {
    int error = errno;
    ::close(dir_fd);
    throw std::system_error(error, std::generic_category(), "opendir " + root_.string());
  }
  int error = 0;
  std::optional<std::uint64_t> own = read_namespace_link(dir_fd, "thread-self/ns/ipc", error);
  if (!own) {
    throw std::system_error(error != 0 ? error : EINVAL, std::generic_category(),
                            "read " + (root_ / "thread-self/ns/ipc").string());
  }

  NamespaceScan previous = std::move(scan_);
  scan_ = NamespaceScan{};
  scan_.own_inode = *own;
  // (inode, pid) of every process; grouped by one sort, cheaper than a map at 5,000 processes.
  Members members;
  members.reserve(previous.processes + 64);
  if (source_) {
    scan_.source_error = source_(members);
    if (scan_.source_error == 0) {
      scan_.from_source = true;
      scan_.processes = members.size();
    } else {
      source_ = nullptr;
      members.clear();
    }
  }
  if (!scan_.from_source) read_proc_links(dir_fd, stream.dir, members);
  std::sort(members.begin(), members.end());

  for (std::size_t begin = 0; begin < members.size();) {
    std::size_t end = begin;
    IpcNamespaceRef ref;
    ref.inode = members[begin].first;
    while (end < members.size() && members[end].first == ref.inode) {
      ref.pids.push_back(members[end].second);
      ++end;
    }
    begin = end;
    ref.processes = ref.pids.size();
    ref.own = ref.inode == scan_.own_inode;
    ref.host = ref.inode == kHostIpcNamespaceInode;
    if (!ref.own) {
      // Keep the representative while it lives; otherwise the oldest process (pids wrap, so the
      // lowest pid is not always the oldest). A process whose stat cannot be read goes last.
      const IpcNamespaceRef* before = previous.find(ref.inode);
      auto representative = ref.pids.end();
      if (before != nullptr && !before->pids.empty()) {
        representative = std::find(ref.pids.begin(), ref.pids.end(), before->pids.front());
        ref.start_ticks = before->start_ticks;
      }
      if (representative == ref.pids.end()) {
        ref.start_ticks.reset();
        for (auto pid = ref.pids.begin(); pid != ref.pids.end(); ++pid) {
          std::optional<std::uint64_t> started = start_ticks(*pid);
          if (started && (!ref.start_ticks || *started < *ref.start_ticks)) {
            ref.start_ticks = started;
            representative = pid;
          }
        }
      }
      if (representative != ref.pids.end())
        std::rotate(ref.pids.begin(), representative, representative + 1);
    }
    scan_.namespaces.push_back(std::move(ref));
  }
  return scan_;
}

}  // namespace ipctrail
