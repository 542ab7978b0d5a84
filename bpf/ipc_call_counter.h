// Counts System V IPC system calls with eBPF. The only door to libbpf in ipctrail: nothing else
// includes a libbpf header.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/bpf_mode.h"
#include "model/ipc_call_counts.h"
#include "model/process_activity.h"

struct ipc_calls;    // the generated skeleton
struct ring_buffer;  // libbpf's ring buffer reader

namespace ipctrail {

// How the programs attach: fentry/fexit on the syscall functions (needs BTF and a kernel that
// allows them; costs nothing to other syscalls), kprobe/kretprobe on the same functions (x86-64;
// costs nothing to other syscalls, a little more than fentry per IPC call), or the syscall
// tracepoints (needs tracefs; puts every syscall of every task on the tracing slow path).
// `auto` tries fentry, then kprobes, then tracepoints.
std::string_view to_string(BpfMode mode);
std::optional<BpfMode> parse_bpf_mode(std::string_view text);

struct IpcCallCounterOptions {
  BpfMode mode = BpfMode::kAuto;
  // The IPC namespace whose calls are counted; 0 means the caller's own at open(). The calls of
  // the process that opens the counter (the agent's own collector) are never counted.
  std::uint32_t ipc_namespace_inode = 0;
  // Who made the calls (docs/design.md §6): per-process counts and lifecycle events. Off, the
  // programs count only the namespace totals (the benchmark's baseline).
  bool per_process = true;
  // Distinct (process, comm, cgroup, call, outcome) the kernel holds between two readings; calls
  // beyond it are counted in ProcessActivity::calls_not_attributed.
  std::uint32_t process_map_entries = 16384;
  // The lifecycle ring buffer, in bytes: a power of two, a multiple of the page size. Events that
  // do not fit are counted in ProcessActivity::events_lost.
  std::uint32_t ring_buffer_bytes = 256 * 1024;
  // Also count the calls of every other IPC namespace, by namespace (`namespaces: all`,
  // docs/design.md §9); needs per_process (its grace period reads them exactly). Off, the other
  // namespaces' calls cost what they always did.
  bool every_namespace = false;
  // Namespaces the kernel holds counts for between two readings (two per namespace while a
  // reading flips the epoch); calls beyond it are counted in IpcCallLosses::other_namespace_calls.
  std::uint32_t namespace_map_entries = 1024;
};

// The calls of the other IPC namespaces made between two readings, by namespace inode; only the
// namespaces that made calls.
using NamespaceCallCounts = std::map<std::uint32_t, IpcCallCounts>;

// Nanoseconds per call of an unrelated syscall (getppid): the median over rounds of a few thousand
// calls each, so that a preemption in one round does not move it. About 10 ms.
double unrelated_syscall_ns();

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

  BpfMode attached_mode() const { return mode_; }  // tracepoint, fentry or kprobe
  // What attaching cost unrelated syscalls, measured by open().
  const SyscallTax& syscall_tax() const { return syscall_tax_; }
  std::uint32_t ipc_namespace_inode() const { return namespace_inode_; }

  // The watched namespace's cumulative counts since open(), summed over CPUs, without this
  // process's own calls. With per-process counts, the programs count a call under its process
  // only (the totals' slot gets just the calls the per-process map had no room for), and this
  // adds the processes' counts: those read_processes() took and those still in the kernel. Throws
  // std::system_error if the kernel refuses to read the maps.
  IpcCallCounts read() const;

  // What the programs could not count since open() (cumulative): the kernel's recursion misses of
  // every attached program (bpf_prog_info), and other namespaces' calls beyond their map. Throws
  // std::system_error if the kernel refuses to describe a program.
  IpcCallLosses losses() const;

  // Whether read_processes() also gives the other namespaces' calls (every_namespace asked for,
  // and per-process counts on).
  bool counts_every_namespace() const { return counting_every_namespace_; }

  // Whether read_processes() has anything to give (per_process asked for, and the kernel offers
  // the grace period it needs: membarrier(MEMBARRIER_CMD_GLOBAL), refused under nohz_full).
  bool tracks_processes() const { return tracking_processes_; }

  // The per-process counts made since the previous call (each exactly once: the counting epoch is
  // flipped and the old epoch's keys read and deleted after an RCU grace period, a few ms), and
  // the lifecycle events waiting in the ring buffer, oldest first. With every namespace counted,
  // the other namespaces' calls of the same interval, read in the same grace period, go to
  // `other_namespaces` (when given; they are taken from the kernel either way). Throws
  // std::system_error if the kernel refuses to read the maps.
  ProcessActivity read_processes(NamespaceCallCounts* other_namespaces = nullptr);

 private:
  IpcCallCounter(ipc_calls* skeleton, BpfMode mode, std::uint32_t namespace_inode,
                 bool tracking_processes, bool counting_every_namespace);

  // Reads and deletes the old epoch's counts of the other namespaces (after the grace period).
  void take_other_namespaces(std::uint32_t old_epoch, NamespaceCallCounts* into);

  ipc_calls* skeleton_;
  ring_buffer* lifecycle_events_ = nullptr;
  std::vector<LifecycleEvent> pending_events_;  // filled by the ring buffer's callback
  // Every per-process count read_processes() took so far, by call and outcome: part of read().
  IpcCallCounts attributed_;
  BpfMode mode_;
  SyscallTax syscall_tax_;
  std::uint32_t namespace_inode_;
  bool tracking_processes_;
  bool counting_every_namespace_;
};

}  // namespace ipctrail
