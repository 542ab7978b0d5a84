#include "agent/daemon/namespace_watch.h"

#include <spdlog/spdlog.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <set>
#include <system_error>

#include "agent/namespaces/namespace_owner.h"
#include "bpf/namespace_iterator.h"

namespace ipctrail {

namespace {

bool shares_a_process(const std::vector<pid_t>& before, const std::vector<pid_t>& now) {
  return std::any_of(before.begin(), before.end(), [&](pid_t pid) {
    return std::find(now.begin(), now.end(), pid) != now.end();
  });
}

// A start time in clock ticks since boot as unix milliseconds: the kernel counts it on the boot
// clock, so boot is now on the real-time clock less now on the boot clock.
std::optional<std::int64_t> unix_ms_of_start(std::optional<std::uint64_t> start_ticks) {
  if (!start_ticks) return std::nullopt;
  timespec real{}, boot{};
  if (::clock_gettime(CLOCK_REALTIME, &real) != 0 || ::clock_gettime(CLOCK_BOOTTIME, &boot) != 0) {
    return std::nullopt;
  }
  auto ms = [](const timespec& t) { return std::int64_t{t.tv_sec} * 1000 + t.tv_nsec / 1'000'000; };
  static const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  return ms(real) - ms(boot) + static_cast<std::int64_t>(*start_ticks) * 1000 / ticks_per_second;
}

NamespaceIdentity identity_of(const IpcNamespaceRef& ref) {
  NamespaceOwner owner = namespace_owner(ref);
  NamespaceIdentity identity;
  identity.inode = ref.inode;
  identity.label = namespace_label(ref, owner);
  identity.owner_kind = owner.kind;
  identity.owner_name = owner.name;
  identity.container = owner.container_id.empty() ? owner.pod_uid : owner.container_id;
  identity.oldest_process_start_ms = unix_ms_of_start(ref.start_ticks);
  return identity;
}

// The rescan's process source: the task iterator when it opens, none (/proc's links) otherwise.
ProcessNamespaceSource process_source(bool task_iterator) {
  if (!task_iterator) {
    spdlog::info("IPC namespaces are listed from /proc/<pid>/ns/ipc (bpf.enabled is off)");
    return {};
  }
  NamespaceIteratorOpening opening = NamespaceIterator::open();
  if (!opening.iterator) {
    spdlog::info("IPC namespaces are listed from /proc/<pid>/ns/ipc: no BPF task iterator, {}",
                 opening.failure);
    return {};
  }
  spdlog::info("IPC namespaces are listed by a BPF task iterator");
  std::shared_ptr<NamespaceIterator> iterator = std::move(opening.iterator);
  return [iterator](std::vector<std::pair<std::uint64_t, pid_t>>& inode_and_pid) {
    return iterator->read(inode_and_pid);
  };
}

}  // namespace

NamespaceWatch::NamespaceWatch(CollectorOptions collector, std::chrono::milliseconds rescan_period,
                               bool task_iterator, std::size_t workers)
    : rescan_period_(rescan_period),
      scanner_("/proc", process_source(task_iterator)),
      sampler_(std::move(collector), workers) {}

void NamespaceWatch::rescan() {
  const NamespaceScan* scan = nullptr;
  try {
    scan = &scanner_.rescan();
  } catch (const std::system_error& error) {
    // /proc or our own link unreadable: keep the namespaces of the last scan, try again later.
    spdlog::error("cannot list IPC namespaces: {}", error.what());
    return;
  }
  if (scan->source_error != 0) {
    spdlog::warn(
        "the BPF task iterator failed ({}); IPC namespaces are listed from /proc from now on",
        std::strerror(scan->source_error));
  }
  std::map<std::uint64_t, Known> found;
  std::set<std::uint64_t> same_incarnation;
  for (const IpcNamespaceRef& ref : scan->namespaces) {
    if (ref.own) continue;
    auto previous = known_.find(ref.inode);
    if (previous != known_.end() && shares_a_process(previous->second.pids, ref.pids)) {
      Known same = std::move(previous->second);
      same.pids = ref.pids;
      found.emplace(ref.inode, std::move(same));
      same_incarnation.insert(ref.inode);
      continue;
    }
    Known fresh{identity_of(ref), ref.pids, false};
    spdlog::info("IPC namespace ipc:[{}] ({}) appeared", ref.inode, fresh.identity.label);
    found.emplace(ref.inode, std::move(fresh));
  }
  for (const auto& [inode, known] : known_) {
    if (!same_incarnation.contains(inode)) {
      spdlog::info("IPC namespace ipc:[{}] ({}) is gone", inode, known.identity.label);
    }
  }
  known_ = std::move(found);
}

std::vector<WatchedNamespace> NamespaceWatch::sample(Clock::time_point now) {
  if (!next_rescan_ || now >= *next_rescan_) {
    rescan();
    next_rescan_ = now + rescan_period_;
  }
  std::vector<IpcNamespaceRef> targets;
  for (const auto& [inode, known] : known_) {
    targets.push_back({.inode = inode, .pids = known.pids, .processes = known.pids.size()});
  }
  std::vector<NamespaceSampleResult> results = sampler_.sample(targets);

  std::vector<WatchedNamespace> watched;
  for (NamespaceSampleResult& result : results) {
    auto known = known_.find(result.inode);
    if (result.failure == NamespaceFailure::kGone) {
      spdlog::info("IPC namespace ipc:[{}] ({}) is gone", result.inode,
                   known->second.identity.label);
      known_.erase(known);
      continue;
    }
    watched.push_back({known->second.identity, !known->second.reported, std::move(result.sample)});
    known->second.reported = true;
  }
  // Said once while it lasts: the namespaces stay, unsampled, and are tried again next tick.
  std::string worker_failure;
  for (const NamespaceSampleResult& result : results) {
    if (result.failure == NamespaceFailure::kNoWorker) worker_failure = result.error;
  }
  if (worker_failure != worker_failure_) {
    if (!worker_failure.empty()) {
      spdlog::warn("IPC namespaces not sampled in this tick: {}", worker_failure);
    }
    worker_failure_ = std::move(worker_failure);
  }
  std::string shortfall = privilege_shortfall(scanner_.last(), results);
  if (shortfall != shortfall_) {
    if (!shortfall.empty()) spdlog::warn("{}", shortfall);
    shortfall_ = std::move(shortfall);
  }
  return watched;
}

}  // namespace ipctrail
