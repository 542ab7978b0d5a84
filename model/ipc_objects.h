// Every System V IPC object the kernel lists, one value per array, queue or segment: the inventory
// that lets a post-incident review name the objects behind the totals (their keys, owners and
// creators), and that the history keeps change-only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ipctrail {

enum class IpcKind : std::uint8_t { kSemaphore, kQueue, kSharedMemory };

// "sem", "msg", "shm", as ipcs and /proc/sysvipc name them.
std::string_view kind_name(IpcKind kind);
std::optional<IpcKind> kind_from_name(std::string_view name);

// One row of /proc/sysvipc/{sem,msg,shm}. Fields another kind does not have stay 0.
// Times are unix seconds as the kernel keeps them; 0 means "never".
struct IpcObject {
  IpcKind kind = IpcKind::kSemaphore;
  int id = 0;                        // semid, msqid, shmid
  std::int32_t key = 0;              // signed, as the kernel prints it
  std::uint32_t mode = 0;            // the permission bits (perms, octal in procfs)
  std::uint32_t uid = 0, gid = 0;    // owner
  std::uint32_t cuid = 0, cgid = 0;  // creator
  std::uint64_t size = 0;            // shm: bytes; sem: nsems; msg: 0 (its capacity is `qbytes`)
  std::int64_t ctime = 0;            // creation, or the last IPC_SET (sem: also SETVAL/SETALL)

  // What moves while the object lives.
  std::int64_t cpid = 0;              // shm: creator pid
  std::int64_t lpid = 0;              // shm: last shmat/shmdt
  std::int64_t lspid = 0;             // msg: last msgsnd
  std::int64_t lrpid = 0;             // msg: last msgrcv
  std::uint64_t nattch = 0;           // shm
  std::uint64_t qnum = 0;             // msg: messages queued
  std::uint64_t cbytes = 0;           // msg: bytes queued
  std::uint64_t rss = 0, swap = 0;    // shm, bytes
  std::int64_t otime = 0;             // sem: last semop
  std::int64_t stime = 0, rtime = 0;  // msg: last send, last receive
  std::int64_t atime = 0, dtime = 0;  // shm: last attach, last detach
  // msg: the queue's capacity, msg_qbytes. Not in procfs: read with msgctl(MSG_STAT_ANY) on the
  // live kernel (docs/design.md §5), unknown otherwise. It moves: msgctl(IPC_SET) may change it.
  std::optional<std::uint64_t> qbytes;

  friend bool operator==(const IpcObject&, const IpcObject&) = default;
};

// One collection's objects of each kind; a kind is empty (nullopt) when it was not read (switched
// off, or its file unavailable): that is "unknown", never "every object was removed".
struct IpcInventory {
  std::optional<std::vector<IpcObject>> semaphores;
  std::optional<std::vector<IpcObject>> queues;
  std::optional<std::vector<IpcObject>> segments;

  std::optional<std::vector<IpcObject>>& of(IpcKind kind);
  const std::optional<std::vector<IpcObject>>& of(IpcKind kind) const;

  friend bool operator==(const IpcInventory&, const IpcInventory&) = default;
};

// An object the leak rules suspect (README "Leak suspects"), and why.
struct LeakSuspect {
  IpcKind kind = IpcKind::kSemaphore;
  int id = 0;
  std::int32_t key = 0;
  std::string reason;
  friend bool operator==(const LeakSuspect&, const LeakSuspect&) = default;
};

inline constexpr IpcKind kIpcKinds[] = {IpcKind::kSemaphore, IpcKind::kQueue,
                                        IpcKind::kSharedMemory};

}  // namespace ipctrail
