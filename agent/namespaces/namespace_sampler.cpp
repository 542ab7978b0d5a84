#include "agent/namespaces/namespace_sampler.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "model/unique_fd.h"

namespace ipctrail {

namespace {

// Whether this thread holds `capability` in its effective set (capget: no libcap for one bit).
bool has_effective_capability(int capability) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  return (data[capability / 32].effective & (1u << (capability % 32))) != 0;
}

std::string failed_call(const std::string& call, int error) {
  return fmt::format("{}: {}", call, std::strerror(error));
}

}  // namespace

NamespaceSampler::NamespaceSampler(CollectorOptions options) : options_(std::move(options)) {}

bool NamespaceSampler::sample_inside(const IpcNamespaceRef& target, int home_fd,
                                     NamespaceSampleResult& result) {
  result.failure = NamespaceFailure::kGone;
  result.error = "no process of the last scan is in it any more";
  for (pid_t pid : target.pids) {
    std::string path = fmt::format("/proc/{}/ns/ipc", pid);
    UniqueFd link(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (link.get() < 0) {
      if (errno == EACCES || errno == EPERM) {
        result.failure = NamespaceFailure::kNeedsPtrace;
        result.error = failed_call("open " + path, errno);
      }
      continue;  // ENOENT, ESRCH: that process exited; try the next one
    }
    // The pid may have been reused by a process of another namespace since the scan.
    struct stat status {};
    if (::fstat(link.get(), &status) != 0 || status.st_ino != target.inode) continue;
    if (::setns(link.get(), CLONE_NEWIPC) != 0) {
      result.failure = errno == EPERM ? NamespaceFailure::kNeedsSysAdmin : NamespaceFailure::kGone;
      result.error = failed_call("setns(" + path + ", CLONE_NEWIPC)", errno);
      return true;  // refused: the worker is still at home
    }
    result.sample.emplace();
    collectors_.at(target.inode)->collect(*result.sample);
    result.failure = NamespaceFailure::kNone;
    result.error.clear();
    return ::setns(home_fd, CLONE_NEWIPC) == 0;
  }
  return true;
}

std::vector<NamespaceSampleResult> NamespaceSampler::sample(
    const std::vector<IpcNamespaceRef>& targets) {
  std::vector<NamespaceSampleResult> results(targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) results[i].inode = targets[i].inode;
  // Make every Collector before the worker starts: from then on both threads only look them up
  // (map::at, which unlike operator[] is safe to call from two threads).
  std::erase_if(collectors_, [&](const auto& entry) {
    return std::none_of(targets.begin(), targets.end(),
                        [&](const IpcNamespaceRef& target) { return target.inode == entry.first; });
  });
  for (const IpcNamespaceRef& target : targets) {
    std::unique_ptr<Collector>& collector = collectors_[target.inode];
    if (!collector) collector = std::make_unique<Collector>(options_);
  }

  bool any_other = std::any_of(targets.begin(), targets.end(),
                               [](const IpcNamespaceRef& target) { return !target.own; });
  std::thread worker;
  if (any_other) {
    worker = std::thread([&] {
      UniqueFd home(::open("/proc/thread-self/ns/ipc", O_RDONLY | O_CLOEXEC));
      std::string home_error =
          home.get() < 0 ? failed_call("open /proc/thread-self/ns/ipc", errno) : "";
      for (std::size_t i = 0; i < targets.size(); ++i) {
        if (targets[i].own) continue;
        if (!home_error.empty()) {
          results[i].failure = NamespaceFailure::kGone;
          results[i].error = home_error;
          continue;
        }
        if (!sample_inside(targets[i], home.get(), results[i])) {
          home_error = failed_call("setns back to the worker's own namespace", errno);
        }
      }
    });
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (!targets[i].own) continue;
    results[i].sample.emplace();
    collectors_.at(targets[i].inode)->collect(*results[i].sample);
  }
  if (worker.joinable()) worker.join();
  return results;
}

std::string privilege_shortfall(const NamespaceScan& scan,
                                const std::vector<NamespaceSampleResult>& results) {
  std::size_t unreadable = scan.denied, not_entered = 0;
  for (const NamespaceSampleResult& result : results) {
    if (result.failure == NamespaceFailure::kNeedsPtrace) ++unreadable;
    if (result.failure == NamespaceFailure::kNeedsSysAdmin) ++not_entered;
  }
  // A capability that is there already is not missing: then something else refused (an LSM, or
  // a process holding capabilities ipctrail has not, such as a sandbox's init).
  std::vector<std::string> parts;
  if (unreadable > 0) {
    parts.push_back(
        has_effective_capability(CAP_SYS_PTRACE)
            ? fmt::format("/proc/<pid>/ns/ipc of {} processes was refused even with "
                          "CAP_SYS_PTRACE, so their namespaces may not be listed",
                          unreadable)
            : fmt::format("missing CAP_SYS_PTRACE (/proc/<pid>/ns/ipc of {} processes could not "
                          "be read, so their namespaces may not be listed)",
                          unreadable));
  }
  if (not_entered > 0) {
    parts.push_back(
        has_effective_capability(CAP_SYS_ADMIN)
            ? fmt::format("{} namespaces refused setns even with CAP_SYS_ADMIN", not_entered)
            : fmt::format("missing CAP_SYS_ADMIN ({} namespaces could not be entered)",
                          not_entered));
  }
  if (parts.empty()) return "";
  return fmt::format("not every IPC namespace was sampled: {}", fmt::join(parts, "; "));
}

}  // namespace ipctrail
