// `ipctrail sample`: collect once and print. With --bpf, IPC system calls are counted over a short
// window first, since a rate needs two readings. With --namespaces or --namespace, the host's IPC
// namespaces are found and sampled from a worker that enters each (docs/design.md §9).
#include <charconv>
#include <chrono>
#include <iostream>
#include <system_error>
#include <thread>

#include "agent/cli/commands.h"
#include "agent/cli/namespace_report.h"
#include "agent/cli/report.h"
#include "agent/collect/collector.h"
#include "agent/namespaces/namespace_owner.h"
#include "agent/namespaces/namespace_sampler.h"
#include "agent/namespaces/namespace_scan.h"
#include "bpf/ipc_call_collector.h"
#include "export/prometheus.h"
#include "model/time_parse.h"

namespace ipctrail {

namespace {

struct SampleOptions {
  std::string format = "table";
  std::string procfs_root = "/proc";
  std::string bpf = "off";
  std::string bpf_mode = "auto";
  double bpf_window_seconds = 1.0;
  bool list_namespaces = false;
  std::string namespace_choice;  // empty: the own namespace, as without the option
};

BpfOptions bpf_options(const SampleOptions& options) {
  BpfOptions bpf;
  bpf.enabled = options.bpf == "on"    ? BpfEnabled::kOn
                : options.bpf == "off" ? BpfEnabled::kOff
                                       : BpfEnabled::kAuto;
  bpf.mode = *parse_bpf_mode(options.bpf_mode);
  return bpf;
}

CollectorOptions sample_collector_options(const SampleOptions& options) {
  CollectorOptions collector_options;
  collector_options.procfs_root = options.procfs_root;
  collector_options.use_syscalls = options.procfs_root == "/proc";
  // No output of `sample` shows a queue's capacity, and reading it costs a msgctl per queue: at
  // 32,000 queues that was 90% of the command's system time (issue #11).
  collector_options.queue_capacity = false;
  return collector_options;
}

// The namespaces `choice` names: "all"; "own"; an inode, bare or as "ipc:[N]"; or a label
// ("host", an owner's name). Empty when nothing matches; several when a label is not unique.
std::vector<IpcNamespaceRef> chosen_namespaces(const NamespaceScan& scan,
                                               const std::string& choice) {
  std::vector<IpcNamespaceRef> chosen;
  std::optional<std::uint64_t> inode = parse_ipc_namespace_link(choice);
  std::uint64_t number = 0;
  auto [end, error] = std::from_chars(choice.data(), choice.data() + choice.size(), number);
  if (error == std::errc{} && end == choice.data() + choice.size()) inode = number;
  for (const IpcNamespaceRef& ref : scan.namespaces) {
    bool match = choice == "all" || (choice == "own" && ref.own) || inode == ref.inode ||
                 (!inode && namespace_label(ref, namespace_owner(ref)) == choice);
    if (match) chosen.push_back(ref);
  }
  return chosen;
}

int sample_namespaces(const SampleOptions& options) {
  bool listing = options.list_namespaces;
  bool all = listing || options.namespace_choice == "all";
  if (all && options.format == "prometheus") {
    std::cerr << "ipctrail sample: --format prometheus shows one namespace; name it with "
                 "--namespace NAME|INODE\n";
    return kExitUsage;
  }
  NamespaceScanner scanner(options.procfs_root);
  NamespaceReport report;
  std::vector<IpcNamespaceRef> targets;
  try {
    const NamespaceScan& scan = scanner.rescan();
    report.processes_scanned = scan.processes;
    report.processes_denied = scan.denied;
    targets = chosen_namespaces(scan, listing ? "all" : options.namespace_choice);
  } catch (const std::system_error& failure) {
    std::cerr << "ipctrail sample: cannot list IPC namespaces: " << failure.what() << '\n';
    return kExitFailure;
  }
  if (targets.empty()) {
    std::cerr << "ipctrail sample: no IPC namespace " << options.namespace_choice
              << " (ipctrail sample --namespaces lists them)\n";
    return kExitUsage;
  }
  if (!all && targets.size() > 1) {
    std::cerr << "ipctrail sample: " << targets.size() << " IPC namespaces are called "
              << options.namespace_choice << "; name one by its inode\n";
    return kExitUsage;
  }

  NamespaceSampler sampler(sample_collector_options(options));
  std::vector<NamespaceSampleResult> results = sampler.sample(targets);
  report.ts_ms = unix_now_ms();
  for (std::size_t i = 0; i < targets.size(); ++i) {
    NamespaceOwner owner = namespace_owner(targets[i]);
    report.namespaces.push_back({std::move(targets[i]), std::move(owner), std::move(results[i])});
  }
  report.shortfall = privilege_shortfall(scanner.last(), results);
  if (!report.shortfall.empty()) std::cerr << "ipctrail sample: " << report.shortfall << '\n';

  if (!all) {
    const SampledNamespace& one = report.namespaces.front();
    if (!one.result.sample) {
      std::cerr << "ipctrail sample: " << namespace_heading(one)
                << " not sampled: " << one.result.error << '\n';
      return kExitFailure;
    }
    if (options.format == "json") {
      // The one namespace's document, with "namespace" added last.
      std::string json = sample_to_json(*one.result.sample);
      json.pop_back();
      std::cout << json << ",\"namespace\":" << namespace_identity_json(one.ref, one.owner)
                << "}\n";
    } else if (options.format == "prometheus") {
      std::cout << render_exposition({.sample = *one.result.sample});
    } else {
      std::cout << namespace_heading(one) << '\n' << sample_to_table(*one.result.sample);
    }
    return kExitOk;
  }
  if (options.format == "json") {
    std::cout << (listing ? namespace_list_json(report) : namespaces_json(report)) << '\n';
  } else {
    std::cout << (listing ? namespace_list_table(report) : namespaces_table(report));
  }
  return kExitOk;
}

int sample_once(const SampleOptions& options) {
  if (options.list_namespaces || !options.namespace_choice.empty()) {
    return sample_namespaces(options);
  }
  Collector collector(sample_collector_options(options));

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
  CLI::Option* list = command->add_flag(
      "--namespaces", options->list_namespaces,
      "List the host's IPC namespaces: inode, owner, and used/limit of arrays, semaphores, "
      "queues and segments");
  command
      ->add_option("--namespace", options->namespace_choice,
                   "Sample another IPC namespace: its inode (or ipc:[N]), its owner's name, "
                   "host, own, or all (default: the one ipctrail runs in)")
      ->excludes(list);
  command
      ->add_option("--procfs-root", options->procfs_root,
                   "Read a recorded procfs tree instead of the live /proc (for tests)")
      ->group("");
  command->callback([&run, options] {
    // BPF counts the calls of the namespace it was loaded in: ours.
    if ((options->list_namespaces || !options->namespace_choice.empty()) && options->bpf != "off") {
      throw CLI::ValidationError("--bpf",
                                 "counts only the namespace ipctrail runs in: leave it off with "
                                 "--namespace or --namespaces");
    }
    run = [options] { return sample_once(*options); };
  });
}

}  // namespace ipctrail
