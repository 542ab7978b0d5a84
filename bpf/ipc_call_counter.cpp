#include "bpf/ipc_call_counter.h"

#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <system_error>
#include <vector>

#include "bpf/bpf_probe.h"
#include "bpf/ipc_calls.h"
#include "bpf/ipc_calls.skel.h"

namespace ipctrail {

static_assert(IPC_CALL_COUNT == kIpcCallCount && IPC_ERRNO_CLASS_COUNT == kErrnoClassCount);
static_assert(IPC_CALL_SHMCTL == index_of(IpcCall::kShmctl) &&
              IPC_CALL_MSGSND == index_of(IpcCall::kMsgsnd) &&
              IPC_ERRNO_OTHER == index_of(ErrnoClass::kOther) &&
              IPC_ERRNO_EINTR == index_of(ErrnoClass::kEINTR));

std::string_view to_string(BpfMode mode) {
  switch (mode) {
    case BpfMode::kAuto:
      return "auto";
    case BpfMode::kTracepoint:
      return "tracepoint";
    case BpfMode::kFentry:
      return "fentry";
  }
  return "auto";
}

std::optional<BpfMode> parse_bpf_mode(std::string_view text) {
  for (BpfMode mode : {BpfMode::kAuto, BpfMode::kTracepoint, BpfMode::kFentry}) {
    if (text == to_string(mode)) return mode;
  }
  return std::nullopt;
}

namespace {

// libbpf's own messages (verifier logs, attach errors) are details for --log-level debug; the
// one-line reason a user sees comes from open().
int log_libbpf_message(libbpf_print_level level, const char* format, va_list arguments) {
  if (level == LIBBPF_DEBUG) return 0;
  char text[1024];
  int length = std::vsnprintf(text, sizeof text, format, arguments);
  std::string_view message(text, std::clamp(length, 0, static_cast<int>(sizeof text) - 1));
  while (!message.empty() && message.back() == '\n') message.remove_suffix(1);
  spdlog::debug("{}", message);
  return length;
}

std::vector<std::string_view> call_names() {
  return {kIpcCallNames.begin(), kIpcCallNames.end()};
}

// Device and inode of one of this process's namespaces (/proc/self/ns/<kind>).
std::optional<struct stat> own_namespace(const char* kind, std::string& failure) {
  std::string path = fmt::format("/proc/self/ns/{}", kind);
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) {
    failure = fmt::format("cannot identify this process's {} namespace ({}: {})", kind, path,
                          std::strerror(errno));
    return std::nullopt;
  }
  return status;
}

// What the programs are told before loading: whose calls to count, and whose to leave out.
struct ProgramConstants {
  std::uint32_t watched_ipc_namespace = 0;
  std::uint64_t agent_pid_namespace_device = 0;
  std::uint64_t agent_pid_namespace_inode = 0;
  std::uint32_t agent_tgid = 0;
};

struct SkeletonDeleter {
  void operator()(ipc_calls* skeleton) const { ipc_calls__destroy(skeleton); }
};
using Skeleton = std::unique_ptr<ipc_calls, SkeletonDeleter>;

// open() checked the privilege first, so a refusal here comes from kernel policy: on lockdown
// kernels (integrity mode) fentry programs are refused with EPERM even for root.
std::string libbpf_failure(std::string_view step, int error, BpfMode mode) {
  if (error == EPERM || error == EACCES) {
    return fmt::format(
        "{} was refused by the kernel ({}) although this process is privileged: kernel lockdown "
        "(/sys/kernel/security/lockdown) or a security module forbids it; fix: {}",
        step, std::strerror(error),
        mode == BpfMode::kFentry ? "use bpf.mode tracepoint" : "bpf.enabled false");
  }
  return fmt::format("{} failed: {} (--log-level debug shows libbpf's details)", step,
                     std::strerror(error));
}

// The call a program counts, from its name (<kind>_<call>), or -1.
int call_of_program(std::string_view program, std::string_view kind) {
  if (!program.starts_with(kind) || program.size() <= kind.size() + 1 ||
      program[kind.size()] != '_') {
    return -1;
  }
  std::string_view call = program.substr(kind.size() + 1);
  auto found = std::find(kIpcCallNames.begin(), kIpcCallNames.end(), call);
  return found == kIpcCallNames.end() ? -1 : static_cast<int>(found - kIpcCallNames.begin());
}

// Switches on only the programs of `mode` (pointing fentry/fexit at `functions`), loads and
// attaches them. Fills `failure` and returns null when any step fails.
Skeleton open_in_mode(BpfMode mode, const std::vector<std::string>& functions,
                      const ProgramConstants& constants, std::string& failure) {
  Skeleton skeleton(ipc_calls__open());
  if (!skeleton) {
    failure = libbpf_failure("opening the embedded BPF object", errno, mode);
    return nullptr;
  }
  skeleton->rodata->watched_ipc_namespace = constants.watched_ipc_namespace;
  skeleton->rodata->agent_pid_namespace_device = constants.agent_pid_namespace_device;
  skeleton->rodata->agent_pid_namespace_inode = constants.agent_pid_namespace_inode;
  skeleton->rodata->agent_tgid = constants.agent_tgid;
  bpf_program* program = nullptr;
  bpf_object__for_each_program(program, skeleton->obj) {
    std::string_view name = bpf_program__name(program);
    bool wanted = false;
    if (mode == BpfMode::kTracepoint) {
      wanted = call_of_program(name, "tp_enter") >= 0 || call_of_program(name, "tp_exit") >= 0;
    } else {
      int call = std::max(call_of_program(name, "fentry"), call_of_program(name, "fexit"));
      if (call >= 0) {
        wanted = true;
        int error = bpf_program__set_attach_target(
            program, 0, functions[static_cast<std::size_t>(call)].c_str());
        if (error != 0) {
          failure =
              libbpf_failure(fmt::format("pointing {} at {}", name, functions[call]), -error, mode);
          return nullptr;
        }
      }
    }
    bpf_program__set_autoload(program, wanted);
  }
  if (int error = ipc_calls__load(skeleton.get()); error != 0) {
    failure = libbpf_failure(fmt::format("loading the {} programs", to_string(mode)), -error, mode);
    return nullptr;
  }
  if (int error = ipc_calls__attach(skeleton.get()); error != 0) {
    failure =
        libbpf_failure(fmt::format("attaching the {} programs", to_string(mode)), -error, mode);
    return nullptr;
  }
  return skeleton;
}

// Probes `mode`, then opens it; fills `failure` when it cannot be used.
Skeleton try_mode(BpfMode mode, const ProgramConstants& constants, std::string& failure) {
  std::vector<std::string_view> calls = call_names();
  std::vector<std::string> functions;
  if (mode == BpfMode::kTracepoint) {
    if (auto unavailable = bpf_probe::tracepoints_unavailable(calls)) {
      failure = *unavailable;
      return nullptr;
    }
  } else {
    bpf_probe::SyscallFunctions found = bpf_probe::find_syscall_functions(calls);
    if (found.names.empty()) {
      failure = found.failure;
      return nullptr;
    }
    functions = std::move(found.names);
  }
  return open_in_mode(mode, functions, constants, failure);
}

}  // namespace

IpcCallCounterOpening IpcCallCounter::open(const IpcCallCounterOptions& options) {
  static const bool libbpf_logging_routed = (libbpf_set_print(log_libbpf_message), true);
  (void)libbpf_logging_routed;

  IpcCallCounterOpening opening;
  if (auto missing = bpf_probe::missing_privilege()) {
    opening.failure = *missing;
    return opening;
  }
  ProgramConstants constants;
  constants.watched_ipc_namespace = options.ipc_namespace_inode;
  if (constants.watched_ipc_namespace == 0) {
    auto own_ipc = own_namespace("ipc", opening.failure);
    if (!own_ipc) return opening;
    constants.watched_ipc_namespace = static_cast<std::uint32_t>(own_ipc->st_ino);
  }
  auto own_pid = own_namespace("pid", opening.failure);
  if (!own_pid) return opening;
  constants.agent_pid_namespace_device = own_pid->st_dev;
  constants.agent_pid_namespace_inode = own_pid->st_ino;
  constants.agent_tgid = static_cast<std::uint32_t>(::getpid());

  std::vector<BpfMode> modes = {options.mode};
  if (options.mode == BpfMode::kAuto) modes = {BpfMode::kFentry, BpfMode::kTracepoint};
  std::vector<std::string> failures;
  for (BpfMode mode : modes) {
    std::string failure;
    Skeleton skeleton = try_mode(mode, constants, failure);
    // Loading parses the kernel's whole BTF (megabytes, then freed); hand that heap back to the
    // system, or the agent's resident size stays inflated for its whole life.
    ::malloc_trim(0);
    if (skeleton) {
      if (!failures.empty()) spdlog::debug("BPF fentry mode unavailable: {}", failures.front());
      opening.counter.reset(
          new IpcCallCounter(skeleton.release(), mode, constants.watched_ipc_namespace));
      return opening;
    }
    failures.push_back(std::move(failure));
  }
  opening.failure = failures.size() == 1
                        ? failures.front()
                        : fmt::format("tracepoints: {}; fentry: {}", failures[1], failures[0]);
  return opening;
}

IpcCallCounter::IpcCallCounter(ipc_calls* skeleton, BpfMode mode, std::uint32_t namespace_inode)
    : skeleton_(skeleton), mode_(mode), namespace_inode_(namespace_inode) {}

IpcCallCounter::~IpcCallCounter() {
  ipc_calls__destroy(skeleton_);
}

IpcCallCounts IpcCallCounter::read() const {
  std::vector<ipc_call_counts> per_cpu(static_cast<std::size_t>(libbpf_num_possible_cpus()));
  std::uint32_t slot = 0;
  int error = bpf_map__lookup_elem(skeleton_->maps.watched_counts, &slot, sizeof slot,
                                   per_cpu.data(), per_cpu.size() * sizeof(ipc_call_counts), 0);
  IpcCallCounts totals;
  if (error != 0) {
    throw std::system_error(-error, std::generic_category(), "reading the BPF call counters");
  }
  for (const ipc_call_counts& cpu : per_cpu) {
    for (std::size_t call = 0; call < kIpcCallCount; ++call) {
      totals.calls[call] += cpu.calls[call];
      for (std::size_t error_class = 0; error_class < kErrnoClassCount; ++error_class) {
        totals.failures[call][error_class] += cpu.failures[call][error_class];
      }
    }
  }
  return totals;
}

}  // namespace ipctrail
