// One collection of System V IPC state: a plain value that flows collect -> alerts -> storage.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/ipc_call_counts.h"
#include "model/ipc_objects.h"
#include "model/process_activity.h"

namespace ipctrail {

struct MessageQueue {
  int msqid = 0;
  std::int32_t key = 0;
  std::uint32_t uid = 0;
  std::uint64_t messages = 0;   // qnum
  std::uint64_t bytes = 0;      // cbytes
  std::int64_t changed_at = 0;  // ctime, unix seconds: creation or the last msgctl(IPC_SET)
  // msg_qbytes, the most this queue holds; not in procfs, so only read when
  // CollectorOptions::queue_capacity asks for it.
  std::optional<std::uint64_t> capacity_bytes;
};

// Every limit is optional: unknown when neither procfs nor *ctl(IPC_INFO) answered.
struct Limits {
  std::optional<std::uint64_t> semmsl, semmns, semopm, semmni;
  std::optional<std::uint64_t> msgmni, msgmnb, msgmax;
  std::optional<std::uint64_t> shmmni, shmall, shmmax;
};

// The kernel's "no limit": shmmax and shmall default to ULONG_MAX - 2^24 (include/uapi/linux/shm.h;
// the 2^24 of headroom keeps sums of them from overflowing), and the kernel accepts larger values
// with the same meaning. So any limit at or above that value is shown as "unlimited" to people;
// machine outputs (JSON, Prometheus, the history) keep the kernel's number.
inline constexpr std::uint64_t kUnlimitedFrom =
    std::numeric_limits<unsigned long>::max() - (1UL << 24);
constexpr bool is_unlimited(std::uint64_t limit) {
  return limit >= kUnlimitedFrom;
}

// Names and values of every limit, in a fixed order, for printing and storing.
struct NamedLimit {
  std::string_view name;
  std::optional<std::uint64_t> value;
};
std::vector<NamedLimit> named_limits(const Limits& limits);

struct Sample {
  std::int64_t ts_ms = 0;  // unix milliseconds, wall clock

  // Each part is empty when it is switched off or its kernel source is unavailable.
  std::optional<std::uint64_t> semaphores;        // seminfo.semaem
  std::optional<std::uint64_t> semaphore_arrays;  // seminfo.semusz
  std::optional<std::vector<MessageQueue>> queues;
  std::optional<std::uint64_t> shm_segments;
  std::optional<std::uint64_t> shm_bytes;  // sum of segment sizes
  std::optional<std::uint64_t> shm_pages;  // sum of sizes rounded up to pages, compared with shmall

  // System V IPC system calls in the watched namespace, counted with BPF; empty when BPF is off
  // or unavailable.
  std::optional<IpcCallActivity> ipc_calls;
  // The same calls by process, and the objects created and removed (with who did it); empty when
  // BPF is off or unavailable.
  std::optional<ProcessActivity> processes;

  // The parts whose kernel source could not be read in this collection (EMFILE, EACCES, an
  // unexpected header): unknown, not empty. A part that is empty and not marked here is switched
  // off. A failed read is a collector fault, never a removal.
  struct SourceFaults {
    bool semaphores = false;
    bool queues = false;
    bool shared_memory = false;
    bool any() const { return semaphores || queues || shared_memory; }
  };
  SourceFaults faults;

  // Every object, when the collector was asked for the inventory (the agent is; a one-shot
  // `sample` is not).
  IpcInventory objects;
  // The objects the leak rules suspect, when the inventory was collected.
  std::optional<std::vector<LeakSuspect>> leak_suspects;

  Limits limits;
  std::uint64_t skipped_lines = 0;  // malformed or truncated rows ignored in this collection
};

}  // namespace ipctrail
