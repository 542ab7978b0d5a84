// How BPF call counting is asked for: shared by the config file, the command line and the
// collector, without pulling in libbpf.
#pragma once

namespace ipctrail {

// auto: use BPF when the kernel allows it, else poll without it; on: refuse to run without it.
enum class BpfEnabled { kAuto, kOn, kOff };
// auto: fentry when the kernel allows it, else tracepoints.
enum class BpfMode { kAuto, kTracepoint, kFentry };

}  // namespace ipctrail
