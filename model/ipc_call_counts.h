// System V IPC system call counts: cumulative totals per call and per call x errno class, and the
// exact counts between two readings (one tick), from which rates are derived for people. Plain
// values, filled by the BPF counter.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "model/bpf_mode.h"

namespace ipctrail {

enum class IpcCall : std::uint8_t {
  kSemget,
  kSemop,
  kSemtimedop,
  kSemctl,
  kMsgget,
  kMsgsnd,
  kMsgrcv,
  kMsgctl,
  kShmget,
  kShmat,
  kShmdt,
  kShmctl,
};
inline constexpr std::array<std::string_view, 12> kIpcCallNames = {
    "semget", "semop",  "semtimedop", "semctl", "msgget", "msgsnd",
    "msgrcv", "msgctl", "shmget",     "shmat",  "shmdt",  "shmctl"};
inline constexpr std::size_t kIpcCallCount = kIpcCallNames.size();

// The failures worth telling apart; everything else is `other`. EINTR also holds the kernel's
// restart codes (a signal interrupted the call).
enum class ErrnoClass : std::uint8_t {
  kENOSPC,
  kEAGAIN,
  kEIDRM,
  kEACCES,
  kEINVAL,
  kENOMEM,
  kEEXIST,
  kENOENT,
  kE2BIG,
  kEINTR,
  kOther,
};
inline constexpr std::array<std::string_view, 11> kErrnoClassNames = {
    "ENOSPC", "EAGAIN", "EIDRM", "EACCES", "EINVAL", "ENOMEM",
    "EEXIST", "ENOENT", "E2BIG", "EINTR",  "other"};
inline constexpr std::size_t kErrnoClassCount = kErrnoClassNames.size();

constexpr std::size_t index_of(IpcCall call) {
  return static_cast<std::size_t>(call);
}
constexpr std::size_t index_of(ErrnoClass error) {
  return static_cast<std::size_t>(error);
}

template <typename Value>
struct IpcCallTable {
  std::array<Value, kIpcCallCount> calls{};
  std::array<std::array<Value, kErrnoClassCount>, kIpcCallCount> failures{};

  Value& calls_of(IpcCall call) { return calls[index_of(call)]; }
  Value calls_of(IpcCall call) const { return calls[index_of(call)]; }
  Value& failures_of(IpcCall call, ErrnoClass error) {
    return failures[index_of(call)][index_of(error)];
  }
  Value failures_of(IpcCall call, ErrnoClass error) const {
    return failures[index_of(call)][index_of(error)];
  }
  IpcCallTable& operator+=(const IpcCallTable& more) {
    for (std::size_t call = 0; call < kIpcCallCount; ++call) {
      calls[call] += more.calls[call];
      for (std::size_t error = 0; error < kErrnoClassCount; ++error) {
        failures[call][error] += more.failures[call][error];
      }
    }
    return *this;
  }
  bool operator==(const IpcCallTable&) const = default;
};

// Cumulative counts since counting started (what Prometheus `_total` counters expose).
using IpcCallCounts = IpcCallTable<std::uint64_t>;
// Calls per second.
using IpcCallRates = IpcCallTable<double>;

// The calls made between two readings of one counter. A count that went backwards (the counter
// was opened anew) is taken as counted from zero.
IpcCallCounts ipc_calls_between(const IpcCallCounts& earlier, const IpcCallCounts& later);

// `counts` made over `elapsed`, per second; all zero when no time elapsed.
IpcCallRates ipc_call_rates(const IpcCallCounts& counts, std::chrono::duration<double> elapsed);

// What happened between the previous reading and this one.
struct IpcCallInterval {
  IpcCallCounts counts;
  std::chrono::nanoseconds elapsed{0};
};

// Calls the BPF programs could not count, cumulative since they were attached; never silent.
struct IpcCallLosses {
  // Program runs the kernel skipped because a BPF program was already running on that CPU
  // (bpf_prog_info.recursion_misses, summed over the attached programs): each is a call, or its
  // entry, counted nowhere, in no namespace and no process.
  std::uint64_t recursion_misses = 0;
  // Calls of other namespaces (`namespaces: all`) that found the namespace map full.
  std::uint64_t other_namespace_calls = 0;
  bool operator==(const IpcCallLosses&) const = default;
};

struct IpcCallActivity {
  std::string_view attach_mode;  // "tracepoint", "fentry" or "kprobe"
  IpcCallCounts totals;
  // Empty on the first reading after counting started: an interval needs two.
  std::optional<IpcCallInterval> since_previous;
  // What attaching cost unrelated syscalls (measured once, when the programs attached).
  std::optional<SyscallTax> syscall_tax;
  // Of the whole attachment, not of one namespace: another namespace's activity carries the same.
  IpcCallLosses losses;
};

}  // namespace ipctrail
