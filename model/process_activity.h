// Who made the IPC calls (docs/design.md §6): per-process call counts and the lifecycle events
// (objects created and removed) that BPF sees, as plain values. BPF fills the process identity
// from the calling task; the owner of its cgroup (a systemd unit, a container) is resolved in user
// space from cgroupfs, because the packaged service cannot read other processes' /proc entries.
#pragma once

#include <sys/ipc.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/ipc_call_counts.h"
#include "model/ipc_objects.h"

namespace ipctrail {

// The calling process as the kernel knew it at the call.
struct ProcessIdentity {
  std::int32_t tgid = 0;            // the process id in the host's (initial) pid namespace
  std::string comm;                 // the task's command name (at most 15 characters)
  std::uint64_t cgroup_id = 0;      // cgroup v2 id (the inode of its cgroup directory)
  std::uint32_t ipc_namespace = 0;  // inode of its IPC namespace
  friend bool operator==(const ProcessIdentity&, const ProcessIdentity&) = default;
};

// Calls of one process to one call with one outcome, made since the previous reading.
struct ProcessCallCount {
  ProcessIdentity process;
  IpcCall call = IpcCall::kSemget;
  std::optional<ErrnoClass> error;  // nullopt: the call succeeded
  std::uint64_t count = 0;
  friend bool operator==(const ProcessCallCount&, const ProcessCallCount&) = default;
};

enum class LifecycleAction : std::uint8_t {
  // A semget/msgget/shmget with IPC_CREAT returned an id. With IPC_EXCL or IPC_PRIVATE it made a
  // new object; without, it may have found an existing one: the history decides by the inventory.
  kCreated,
  // semctl/msgctl/shmctl(IPC_RMID) succeeded (shm: marked for removal; gone at the last detach).
  kRemoved,
};

struct LifecycleEvent {
  std::int64_t ts_ms = 0;  // unix milliseconds, wall clock
  LifecycleAction action = LifecycleAction::kCreated;
  IpcKind kind = IpcKind::kSemaphore;
  int id = 0;                       // the returned or removed id
  std::optional<std::int32_t> key;  // kCreated: the key asked for
  std::uint32_t flags = 0;          // kCreated: the get's flags (IPC_CREAT, IPC_EXCL, mode)
  ProcessIdentity process;
  std::int32_t tid = 0;   // the calling thread
  std::uint32_t uid = 0;  // the caller's uid
  friend bool operator==(const LifecycleEvent&, const LifecycleEvent&) = default;
};

// Whether a kCreated event surely made a new object: IPC_PRIVATE always does, IPC_EXCL fails
// rather than find one. Without either the get may have found an existing object.
inline bool surely_created(const LifecycleEvent& event) {
  return (event.key && *event.key == IPC_PRIVATE) || (event.flags & IPC_EXCL) != 0;
}

// One reading of the per-process counters and the lifecycle ring buffer.
struct ProcessActivity {
  std::vector<ProcessCallCount> calls;  // since the previous reading; only non-zero counts
  std::vector<LifecycleEvent> events;   // since the previous reading, oldest first
  // What the bounded kernel structures could not hold since counting started: calls of processes
  // beyond the per-process map's capacity, and events lost to a full ring buffer. Never silent.
  std::uint64_t calls_not_attributed = 0;
  std::uint64_t events_lost = 0;
};

}  // namespace ipctrail
