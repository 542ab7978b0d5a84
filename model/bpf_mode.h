// How BPF call counting is asked for: shared by the config file, the command line and the
// collector, without pulling in libbpf.
#pragma once

namespace ipctrail {

// auto: use BPF when the kernel allows it, else poll without it; on: refuse to run without it.
enum class BpfEnabled { kAuto, kOn, kOff };
// auto: fentry when the kernel allows it, else kprobes, else tracepoints. fentry and kprobes tax
// only the IPC calls; the syscall tracepoints put every syscall of every task on the host on the
// tracing slow path.
enum class BpfMode { kAuto, kTracepoint, kFentry, kKprobe };

// What attaching cost the rest of the host: an unrelated syscall (getppid) timed just before and
// just after the programs attached, in nanoseconds per call (median of rounds).
struct SyscallTax {
  double before_ns = 0;
  double after_ns = 0;

  // The cost added, as a fraction of the cost before: 0.3 is +30%.
  double ratio() const { return before_ns > 0 ? after_ns / before_ns - 1 : 0; }
};

}  // namespace ipctrail
