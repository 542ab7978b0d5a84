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

}  // namespace

IpcCallCollector::IpcCallCollector(BpfOptions options) : options_(options) {
  if (options_.enabled == BpfEnabled::kOff) return;
  IpcCallCounterOpening opening = IpcCallCounter::open({.mode = options_.mode});
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
  IpcCallCounterOpening opening = IpcCallCounter::open({.mode = options_.mode});
  if (!opening.counter) return;
  counter_ = std::move(opening.counter);
  previous_.reset();
  failure_logged_ = false;
  log_attached(*counter_, ", counting IPC system calls from now on");
}

void IpcCallCollector::collect(Sample& sample) {
  sample.ipc_calls.reset();
  sample.processes.reset();
  if (options_.enabled == BpfEnabled::kOff) return;
  if (!counter_) try_attach();
  if (!counter_) return;

  Reading reading{{}, std::chrono::steady_clock::now()};
  std::optional<ProcessActivity> processes;
  try {
    reading.counts = counter_->read();
    if (counter_->tracks_processes()) processes = counter_->read_processes();
  } catch (const std::system_error& error) {
    // Never seen in practice; dropping the counter makes the next ticks attach anew.
    if (!failure_logged_) spdlog::warn("IPC system calls are not counted: {}", error.what());
    failure_logged_ = true;
    counter_.reset();
    previous_.reset();
    return;
  }
  IpcCallActivity activity{to_string(counter_->attached_mode()), reading.counts, std::nullopt,
                           counter_->syscall_tax()};
  if (previous_) {
    activity.since_previous = IpcCallInterval{ipc_calls_between(previous_->counts, reading.counts),
                                              reading.at - previous_->at};
  }
  previous_ = reading;
  sample.ipc_calls = std::move(activity);
  sample.processes = std::move(processes);
}

}  // namespace ipctrail
