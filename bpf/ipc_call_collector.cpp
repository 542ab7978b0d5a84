#include "bpf/ipc_call_collector.h"

#include <spdlog/spdlog.h>

namespace ipctrail {

namespace {

// "BPF attached (kprobe); unrelated syscalls: 212 ns -> 214 ns (+1%)": what attaching cost the
// rest of the host, said when it happens.
void log_attached(const IpcCallCounter& counter, std::string_view when) {
  const SyscallTax& tax = counter.syscall_tax();
  spdlog::info("BPF attached ({}){}; unrelated syscalls: {:.0f} ns -> {:.0f} ns ({:+.0f}%)",
               to_string(counter.attached_mode()), when, tax.before_ns, tax.after_ns,
               100 * tax.ratio());
}

IpcCallCounterOptions counter_options(const BpfOptions& options) {
  return {.mode = options.mode, .every_namespace = options.every_namespace};
}

}  // namespace

IpcCallCollector::IpcCallCollector(BpfOptions options) : options_(options) {
  if (options_.enabled == BpfEnabled::kOff) return;
  IpcCallCounterOpening opening = IpcCallCounter::open(counter_options(options_));
  if (!opening.counter && options_.enabled == BpfEnabled::kOn) {
    throw BpfUnavailable("BPF is required (bpf.enabled true, --bpf on) but cannot be used: " +
                         opening.failure);
  }
  if (opening.counter) {
    counter_ = std::move(opening.counter);
    log_attached(*counter_, "");
  } else {
    spdlog::warn("IPC system calls are not counted: {}; polling goes on without them",
                 opening.failure);
    failure_logged_ = true;
    next_attempt_ = std::chrono::steady_clock::now() + options_.retry_interval;
  }
}

IpcCallCollector::~IpcCallCollector() = default;

void IpcCallCollector::try_attach() {
  auto now = std::chrono::steady_clock::now();
  if (now < next_attempt_) return;
  next_attempt_ = now + options_.retry_interval;
  IpcCallCounterOpening opening = IpcCallCounter::open(counter_options(options_));
  if (!opening.counter) return;
  counter_ = std::move(opening.counter);
  forget_readings();
  failure_logged_ = false;
  log_attached(*counter_, ", counting IPC system calls from now on");
}

void IpcCallCollector::forget_readings() {
  previous_.reset();
  namespace_interval_.clear();
  interval_.reset();
  namespace_totals_.clear();
}

std::optional<IpcCallActivity> IpcCallCollector::namespace_calls(std::uint32_t inode,
                                                                 bool new_incarnation) {
  if (!counter_ || !counter_->counts_every_namespace()) return std::nullopt;
  namespaces_asked_.insert(inode);
  auto interval = namespace_interval_.find(inode);
  IpcCallCounts counts = interval == namespace_interval_.end() ? IpcCallCounts{} : interval->second;
  auto totals = namespace_totals_.try_emplace(inode, counts).first;
  if (new_incarnation) totals->second = counts;
  IpcCallActivity activity{to_string(counter_->attached_mode()), totals->second, std::nullopt,
                           std::nullopt, losses_};
  if (interval_) activity.since_previous = IpcCallInterval{counts, *interval_};
  return activity;
}

void IpcCallCollector::collect(Sample& sample) {
  sample.ipc_calls.reset();
  sample.processes.reset();
  if (options_.enabled == BpfEnabled::kOff) return;
  if (!counter_) try_attach();
  if (!counter_) return;

  Reading reading{{}, std::chrono::steady_clock::now()};
  std::optional<ProcessActivity> processes;
  NamespaceCallCounts other_namespaces;
  try {
    // Processes first: the totals then walk only the per-process keys made since (they sum
    // the processes' counts, those taken and those still in the kernel).
    if (counter_->tracks_processes()) processes = counter_->read_processes(&other_namespaces);
    reading.counts = counter_->read();
    losses_ = counter_->losses();
  } catch (const std::system_error& error) {
    // Never seen in practice; dropping the counter makes the next ticks attach anew.
    if (!failure_logged_) spdlog::warn("IPC system calls are not counted: {}", error.what());
    failure_logged_ = true;
    counter_.reset();
    forget_readings();
    return;
  }
  IpcCallActivity activity{to_string(counter_->attached_mode()), reading.counts, std::nullopt,
                           counter_->syscall_tax(), losses_};
  interval_.reset();
  if (previous_) {
    interval_ = reading.at - previous_->at;
    activity.since_previous =
        IpcCallInterval{ipc_calls_between(previous_->counts, reading.counts), *interval_};
  }
  previous_ = reading;
  // The namespaces asked for since the previous reading keep their totals; the others went.
  std::erase_if(namespace_totals_,
                [this](const auto& entry) { return !namespaces_asked_.contains(entry.first); });
  namespaces_asked_.clear();
  for (auto& [inode, totals] : namespace_totals_) {
    if (auto counted = other_namespaces.find(inode); counted != other_namespaces.end()) {
      totals += counted->second;
    }
  }
  namespace_interval_ = std::move(other_namespaces);
  sample.ipc_calls = std::move(activity);
  sample.processes = std::move(processes);
}

}  // namespace ipctrail
