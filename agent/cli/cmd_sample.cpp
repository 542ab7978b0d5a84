// `ipctrail sample`: collect once and print. With --bpf, IPC system calls are counted over a short
// window first, since a rate needs two readings.
#include <chrono>
#include <iostream>
#include <thread>

#include "agent/cli/commands.h"
#include "agent/cli/report.h"
#include "agent/collect/collector.h"
#include "bpf/ipc_call_collector.h"
#include "export/prometheus.h"

namespace ipctrail {

namespace {

struct SampleOptions {
  std::string format = "table";
  std::string procfs_root = "/proc";
  std::string bpf = "off";
  std::string bpf_mode = "auto";
  double bpf_window_seconds = 1.0;
};

BpfOptions bpf_options(const SampleOptions& options) {
  BpfOptions bpf;
  bpf.enabled = options.bpf == "on"    ? BpfEnabled::kOn
                : options.bpf == "off" ? BpfEnabled::kOff
                                       : BpfEnabled::kAuto;
  bpf.mode = *parse_bpf_mode(options.bpf_mode);
  return bpf;
}

int sample_once(const SampleOptions& options) {
  CollectorOptions collector_options;
  collector_options.procfs_root = options.procfs_root;
  collector_options.use_syscalls = options.procfs_root == "/proc";
  // No output of `sample` shows a queue's capacity, and reading it costs a msgctl per queue: at
  // 32,000 queues that was 90% of the command's system time (issue #11).
  collector_options.queue_capacity = false;
  Collector collector(collector_options);

  Sample sample;
  std::optional<IpcCallCollector> calls;
  try {
    calls.emplace(bpf_options(options));
  } catch (const BpfUnavailable& refusal) {
    std::cerr << "error: " << refusal.what() << '\n';
    return kExitFailure;
  }
  if (calls->counting()) {
    calls->collect(sample);
    std::this_thread::sleep_for(std::chrono::duration<double>(options.bpf_window_seconds));
  }
  collector.collect(sample);
  calls->collect(sample);

  if (options.format == "json") {
    std::cout << sample_to_json(sample) << '\n';
  } else if (options.format == "prometheus") {
    std::cout << render_exposition({.sample = sample});
  } else {
    std::cout << sample_to_table(sample);
  }
  return kExitOk;
}

}  // namespace

void add_sample_command(CLI::App& app, CommandAction& run) {
  auto options = std::make_shared<SampleOptions>();
  CLI::App* command = app.add_subcommand("sample", "Collect System V IPC state once and print it");
  command
      ->add_option("--format", options->format,
                   "table (for people), json (a stable contract) or prometheus (text exposition)")
      ->check(CLI::IsMember({"table", "json", "prometheus"}));
  command
      ->add_option("--bpf", options->bpf,
                   "Count IPC system calls with BPF: on (fail without it), auto (use it when it "
                   "works), off")
      ->check(CLI::IsMember({"on", "auto", "off"}))
      ->capture_default_str();
  command
      ->add_option("--bpf-mode", options->bpf_mode,
                   "Attach BPF with fentry, kprobe, tracepoint, or auto (fentry, else kprobe, else "
                   "tracepoint); the tax the mode adds to unrelated syscalls is printed")
      ->check(CLI::IsMember({"auto", "tracepoint", "fentry", "kprobe"}))
      ->capture_default_str();
  command
      ->add_option("--bpf-window", options->bpf_window_seconds,
                   "Seconds to count calls for, to give a rate")
      ->check(CLI::Range(0.05, 60.0))
      ->capture_default_str();
  command
      ->add_option("--procfs-root", options->procfs_root,
                   "Read a recorded procfs tree instead of the live /proc (for tests)")
      ->group("");
  command->callback([&run, options] { run = [options] { return sample_once(*options); }; });
}

}  // namespace ipctrail
