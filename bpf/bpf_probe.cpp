#include "bpf/bpf_probe.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/capability.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "model/capabilities.h"

namespace ipctrail::bpf_probe {

namespace {

// Older kernel headers lack these; the numbers are the kernel ABI since 5.8.
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

// libbpf reads tracepoint ids from debugfs' tracing directory when it exists, else tracefs.
std::filesystem::path tracing_directory() {
  std::error_code error;
  if (std::filesystem::exists("/sys/kernel/debug/tracing/events", error))
    return "/sys/kernel/debug/tracing";
  return "/sys/kernel/tracing";
}

int log_libbpf_message(libbpf_print_level level, const char* format, va_list arguments) {
  if (level == LIBBPF_DEBUG) return 0;
  char text[1024];
  int length = std::vsnprintf(text, sizeof text, format, arguments);
  std::string_view message(text, std::clamp(length, 0, static_cast<int>(sizeof text) - 1));
  while (!message.empty() && message.back() == '\n') message.remove_suffix(1);
  spdlog::debug("{}", message);
  return length;
}

}  // namespace

void route_libbpf_messages_to_log() {
  // A static's initialization runs once, and other threads wait for it.
  static const bool routed = (libbpf_set_print(log_libbpf_message), true);
  (void)routed;
}

std::optional<std::string> missing_privilege() {
  if (has_effective_capability(CAP_SYS_ADMIN)) return std::nullopt;
  if (has_effective_capability(kCapBpf) && has_effective_capability(kCapPerfmon)) {
    return std::nullopt;
  }
  return std::string(
      "this process lacks the privilege to load BPF programs (not root, and CAP_BPF or "
      "CAP_PERFMON is missing); fix: run as root, or grant CAP_BPF and CAP_PERFMON (systemd: "
      "AmbientCapabilities=CAP_BPF CAP_PERFMON)");
}

std::optional<std::string> kprobes_unavailable() {
  std::error_code error;
  if (std::filesystem::exists("/sys/bus/event_source/devices/kprobe/type", error) ||
      std::filesystem::exists(tracing_directory() / "kprobe_events", error)) {
    return std::nullopt;
  }
  return std::string(
      "this kernel has no kprobes (built without CONFIG_KPROBES: neither "
      "/sys/bus/event_source/devices/kprobe nor tracefs' kprobe_events exists); fix: use bpf.mode "
      "fentry or tracepoint");
}

std::optional<std::string> tracepoints_unavailable(const std::vector<std::string_view>& calls) {
  std::filesystem::path tracing = tracing_directory();
  std::error_code error;
  if (!std::filesystem::exists(tracing / "events", error)) {
    return fmt::format(
        "tracefs is not mounted ({} has no events); fix: mount -t tracefs tracefs "
        "/sys/kernel/tracing",
        tracing.string());
  }
  for (std::string_view call : calls) {
    for (std::string_view side : {"enter", "exit"}) {
      std::filesystem::path event =
          tracing / "events/syscalls" / fmt::format("sys_{}_{}", side, call);
      if (!std::filesystem::exists(event, error)) {
        return fmt::format(
            "the kernel has no tracepoint syscalls/sys_{}_{} (built without "
            "CONFIG_FTRACE_SYSCALLS?); fix: use bpf.mode fentry, or bpf.enabled false",
            side, call);
      }
    }
  }
  return std::nullopt;
}

SyscallFunctions find_syscall_functions(const std::vector<std::string_view>& calls) {
  btf* kernel_btf = btf__load_vmlinux_btf();
  if (kernel_btf == nullptr) {
    return {{},
            fmt::format("the kernel's BTF cannot be read (/sys/kernel/btf/vmlinux: {}; a kernel "
                        "built without CONFIG_DEBUG_INFO_BTF); fix: use bpf.mode tracepoint",
                        std::strerror(errno))};
  }
  // Syscall wrappers by architecture; the last two are for kernels without arch wrappers.
  constexpr std::array<std::string_view, 6> kPrefixes = {
      "__x64_sys_", "__arm64_sys_", "__s390x_sys_", "__riscv_sys_", "__se_sys_", "sys_"};
  SyscallFunctions found;
  for (std::string_view call : calls) {
    std::string name;
    for (std::string_view prefix : kPrefixes) {
      std::string candidate = fmt::format("{}{}", prefix, call);
      if (btf__find_by_name_kind(kernel_btf, candidate.c_str(), BTF_KIND_FUNC) >= 0) {
        name = std::move(candidate);
        break;
      }
    }
    if (name.empty()) {
      btf__free(kernel_btf);
      return {{},
              fmt::format("the kernel's BTF has no function for the syscall {} that fentry could "
                          "attach to; fix: use bpf.mode tracepoint",
                          call)};
    }
    found.names.push_back(std::move(name));
  }
  btf__free(kernel_btf);
  return found;
}

}  // namespace ipctrail::bpf_probe
