// Checks made before loading, so that a failure names its cause and its fix (after bcc
// libbpf-tools' tracepoint_exists / fentry_can_attach). Internal to bpf/.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ipctrail::bpf_probe {

// Sends libbpf's own messages (verifier logs, attach errors) to the log at debug level, not to
// stderr: the one-line reason a user sees comes from each loader's open(). libbpf has one printer
// per process, so every loader calls this before it opens a skeleton, whichever comes first.
// Idempotent and thread-safe (libbpf_set_print itself is neither).
void route_libbpf_messages_to_log();

// Why this process may not load tracing programs (neither CAP_SYS_ADMIN nor CAP_BPF with
// CAP_PERFMON in its effective set), with the fix; empty when it may.
std::optional<std::string> missing_privilege();

// Why the tracepoints syscalls/sys_enter_<call> and sys_exit_<call> cannot be attached (tracefs
// not mounted, or a kernel built without syscall tracepoints), with the fix; empty when they can.
std::optional<std::string> tracepoints_unavailable(const std::vector<std::string_view>& calls);

// Why kprobes cannot be attached: the kernel has neither the kprobe perf PMU
// (/sys/bus/event_source/devices/kprobe) nor tracefs' kprobe_events, the two ways libbpf attaches
// one (a kernel built without CONFIG_KPROBES); empty when it can.
std::optional<std::string> kprobes_unavailable();

struct SyscallFunctions {
  std::vector<std::string> names;  // one per call, in the order asked
  std::string failure;             // when `names` is empty: why, with the fix
};

// The kernel functions behind each syscall that fentry can attach to, found in the kernel's BTF
// (__x64_sys_semget on x86-64, __arm64_sys_semget on arm64, ...).
SyscallFunctions find_syscall_functions(const std::vector<std::string_view>& calls);

}  // namespace ipctrail::bpf_probe
