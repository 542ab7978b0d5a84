#include "agent/namespaces/namespace_sampler.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

#include "model/capabilities.h"
#include "model/unique_fd.h"

namespace ipctrail {

namespace {

std::string failed_call(const std::string& call, int error) {
  return fmt::format("{}: {}", call, std::strerror(error));
}

// Descriptors a held namespace takes: its own, a pidfd, and its three /proc/sysvipc tables at most.
constexpr std::size_t kDescriptorsPerNamespace = 5;

// A quarter of the process's descriptor limit, so that the agent's own files, BPF and HTTP
// connections keep the rest.
std::size_t namespaces_within_descriptor_budget() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 0;
  return static_cast<std::size_t>(limit.rlim_cur) / 4 / kDescriptorsPerNamespace;
}

// The namespace inode /proc/<pid>/ns/ipc links to; 0 when it cannot be read (errno says why, and
// is 0 for a link that is not an IPC namespace's).
std::uint64_t namespace_of(pid_t pid) {
  char path[32];
  auto end = fmt::format_to_n(path, sizeof path - 1, "/proc/{}/ns/ipc", pid).out;
  *end = '\0';
  char link[64];
  ssize_t length = ::readlink(path, link, sizeof link);
  if (length < 0) return 0;
  errno = 0;
  std::optional<std::uint64_t> inode =
      parse_ipc_namespace_link(std::string_view(link, static_cast<std::size_t>(length)));
  return inode.value_or(0);
}

}  // namespace

NamespaceSampler::NamespaceSampler(CollectorOptions options, std::size_t workers)
    : options_(std::move(options)),
      workers_(std::max<std::size_t>(workers, 1)),
      hold_limit_(namespaces_within_descriptor_budget()) {}

std::size_t NamespaceSampler::default_workers() {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  std::size_t usable = ::sched_getaffinity(0, sizeof cpus, &cpus) == 0
                           ? static_cast<std::size_t>(CPU_COUNT(&cpus))
                           : 1;
  return std::clamp<std::size_t>(usable, 1, kMostWorkers);
}

UniqueFd NamespaceSampler::open_entry(const IpcNamespaceRef& target, NamespaceSampleResult& result,
                                      pid_t& opened_pid) {
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
    opened_pid = pid;
    return link;
  }
  return UniqueFd();
}

bool NamespaceSampler::sample_inside(const IpcNamespaceRef& target, Watched& watched, int home_fd,
                                     NamespaceSampleResult& result) {
  UniqueFd opened;
  int entry = watched.entry.get();
  // Held descriptors keep the namespace alive: sample it only while a process is in it. While the
  // process it was entered through lives (its pidfd, polled for all namespaces at once) it is; once
  // that one exited, the others of the last scan are looked at, and one still in it is watched
  // instead. A held namespace's inode cannot be reused by another, so the inode is enough.
  if (entry >= 0 && watched.process_exited) {
    result.failure = NamespaceFailure::kGone;
    result.error = "no process of the last scan is in it any more";
    for (pid_t pid : target.pids) {
      UniqueFd process(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
      if (namespace_of(pid) == target.inode) {
        result.failure = NamespaceFailure::kNone;
        watched.process = std::move(process);
        break;
      }
      if (errno == EACCES || errno == EPERM) {  // refused is not gone: a failed read
        result.failure = NamespaceFailure::kNeedsPtrace;
        result.error = failed_call(fmt::format("readlink /proc/{}/ns/ipc", pid), errno);
      }
    }
    if (result.failure != NamespaceFailure::kNone) return true;
  } else if (entry < 0) {
    pid_t pid = 0;
    opened = open_entry(target, result, pid);
    if (opened.get() < 0) return true;
    entry = opened.get();
    // Opened before the check of its namespace below, so that it is that process's.
    if (watched.holds)
      watched.process = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  }
  // Entered only when the collection must run inside (docs/design.md §9): a held namespace's
  // tables answer from here, so a steady tick, with no new or changed queue and no limits due,
  // makes no setns at all.
  bool entered = false;
  int refused = 0;
  auto enter = [&] {
    if (!entered && refused == 0) {
      if (::setns(entry, CLONE_NEWIPC) == 0) {
        entered = true;
      } else {
        refused = errno;
      }
    }
    return entered;
  };
  if (!watched.collector->collect(watched.sample, enter)) {
    result.failure = refused == EPERM ? NamespaceFailure::kNeedsSysAdmin : NamespaceFailure::kGone;
    result.error = failed_call(fmt::format("setns(/proc/{}/ns/ipc, CLONE_NEWIPC)",
                                           target.pids.empty() ? 0 : target.pids.front()),
                               refused);
    return true;  // refused: the worker is still at home
  }
  result.sample = watched.sample;
  result.failure = NamespaceFailure::kNone;
  result.error.clear();
  // Held only with a pidfd to tell when to let go (pidfd_open is Linux 5.3).
  if (watched.holds && opened.get() >= 0 && watched.process.get() >= 0) {
    watched.entry = std::move(opened);
  }
  return !entered || ::setns(home_fd, CLONE_NEWIPC) == 0;
}

void NamespaceSampler::poll_processes() {
  polled_.clear();
  for (auto& [inode, watched] : watched_) {
    // Without a pidfd (its process exited before one was opened) the links are looked at.
    watched.process_exited = watched.entry.get() >= 0 && watched.process.get() < 0;
    if (watched.entry.get() >= 0 && watched.process.get() >= 0) {
      polled_.push_back({watched.process.get(), POLLIN, 0});
    }
  }
  if (polled_.empty()) return;
  // A pidfd is readable once its process exited; an error (should there be one) is as good.
  bool polled = ::poll(polled_.data(), polled_.size(), 0) >= 0;
  auto event = polled_.begin();
  for (auto& [inode, watched] : watched_) {
    if (watched.entry.get() < 0 || watched.process.get() < 0) continue;
    watched.process_exited = !polled || event->revents != 0;
    ++event;
  }
}

void NamespaceSampler::forget(std::map<std::uint64_t, Watched>::iterator watched) {
  if (watched->second.holds) --held_;
  watched_.erase(watched);
}

std::vector<NamespaceSampleResult> NamespaceSampler::sample(
    const std::vector<IpcNamespaceRef>& targets) {
  std::vector<NamespaceSampleResult> results(targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) results[i].inode = targets[i].inode;
  // Make every Collector before the workers start: from then on the threads only look them up
  // (map::at, which unlike operator[] is safe to call from several threads).
  for (auto watched = watched_.begin(); watched != watched_.end();) {
    bool asked = std::any_of(targets.begin(), targets.end(), [&](const IpcNamespaceRef& target) {
      return target.inode == watched->first;
    });
    auto next = std::next(watched);
    if (!asked) forget(watched);
    watched = next;
  }
  for (const IpcNamespaceRef& target : targets) {
    Watched& watched = watched_[target.inode];
    if (watched.collector) continue;
    // The own namespace is collected where it is: nothing to enter, nothing to hold.
    watched.holds = !target.own && held_ < hold_limit_;
    if (watched.holds) ++held_;
    CollectorOptions options = options_;
    options.keep_tables_open = watched.holds;
    watched.collector = std::make_unique<Collector>(options);
  }

  poll_processes();

  // The workers take the other namespaces one at a time from a shared index, so that a slow one
  // (a big table, a namespace to enter) holds up only its worker.
  std::size_t others = static_cast<std::size_t>(std::count_if(
      targets.begin(), targets.end(), [](const IpcNamespaceRef& target) { return !target.own; }));
  std::atomic<std::size_t> next_target{0};
  std::mutex stopped_mutex;
  // Why a worker stopped (it could not be in its own namespace) or could not start.
  std::string stopped_error;
  auto work = [&] {
    UniqueFd home(::open("/proc/thread-self/ns/ipc", O_RDONLY | O_CLOEXEC));
    std::string home_error =
        home.get() < 0 ? failed_call("open /proc/thread-self/ns/ipc", errno) : "";
    while (home_error.empty()) {
      std::size_t i = next_target.fetch_add(1);
      if (i >= targets.size()) return;
      if (targets[i].own) continue;
      if (!sample_inside(targets[i], watched_.at(targets[i].inode), home.get(), results[i])) {
        home_error = failed_call("setns back to the worker's own namespace", errno);
      }
    }
    std::lock_guard lock(stopped_mutex);
    stopped_error = home_error;
  };
  // jthreads: should the own collection below throw, the workers are joined before it leaves.
  std::vector<std::jthread> workers;
  for (std::size_t w = 0; w < std::min(workers_, others); ++w) {
    // EAGAIN, under a thread or process limit: the tick goes on with the workers that started.
    try {
      workers.emplace_back(work);
    } catch (const std::system_error& error) {
      std::lock_guard lock(stopped_mutex);
      if (stopped_error.empty())
        stopped_error = fmt::format("cannot start a sampling thread: {}", error.what());
      break;
    }
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (!targets[i].own) continue;
    Watched& own = watched_.at(targets[i].inode);
    own.collector->collect(own.sample);
    results[i].sample = own.sample;
  }
  for (std::jthread& worker : workers) worker.join();
  // Left when no worker started or every one stopped: not sampled this tick, and not gone.
  for (std::size_t i = std::min(next_target.load(), targets.size()); i < targets.size(); ++i) {
    if (targets[i].own) continue;
    results[i].failure = NamespaceFailure::kNoWorker;
    results[i].error = stopped_error;
  }
  // A namespace gone keeps no descriptor: it would keep the namespace, and its objects, alive.
  for (const NamespaceSampleResult& result : results) {
    if (result.failure != NamespaceFailure::kGone) continue;
    auto watched = watched_.find(result.inode);
    if (watched != watched_.end()) forget(watched);
  }
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
