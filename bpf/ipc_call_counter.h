// Counts System V IPC system calls with eBPF. The only door to libbpf in ipctrail: nothing else
// includes a libbpf header.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "model/bpf_mode.h"
#include "model/ipc_call_counts.h"

struct ipc_calls;  // the generated skeleton

namespace ipctrail {

// How the programs attach: fentry/fexit on the syscall functions (needs BTF; costs nothing to
// other syscalls) or the syscall tracepoints (needs tracefs; puts every syscall of every task on
// the tracing slow path). `auto` tries fentry, then tracepoints.
std::string_view to_string(BpfMode mode);
std::optional<BpfMode> parse_bpf_mode(std::string_view text);

struct IpcCallCounterOptions {
  BpfMode mode = BpfMode::kAuto;
  // The IPC namespace whose calls are counted; 0 means the caller's own at open(). The calls of
  // the process that opens the counter (the agent's own collector) are never counted.
  std::uint32_t ipc_namespace_inode = 0;
};

class IpcCallCounter;

struct IpcCallCounterOpening {
  std::unique_ptr<IpcCallCounter> counter;  // empty when BPF could not be used
  std::string failure;                      // then: why, and the fix, in one line
};

class IpcCallCounter {
 public:
  // Probes, loads and attaches; never throws for a kernel or permission fault.
  static IpcCallCounterOpening open(const IpcCallCounterOptions& options);

  IpcCallCounter(const IpcCallCounter&) = delete;
  IpcCallCounter& operator=(const IpcCallCounter&) = delete;
  ~IpcCallCounter();

  BpfMode attached_mode() const { return mode_; }  // tracepoint or fentry
  std::uint32_t ipc_namespace_inode() const { return namespace_inode_; }

  // The watched namespace's cumulative counts since open(), summed over CPUs, without this
  // process's own calls. Throws
  // std::system_error if the kernel refuses to read the map.
  IpcCallCounts read() const;

 private:
  IpcCallCounter(ipc_calls* skeleton, BpfMode mode, std::uint32_t namespace_inode);

  ipc_calls* skeleton_;
  BpfMode mode_;
  std::uint32_t namespace_inode_;
};

}  // namespace ipctrail
