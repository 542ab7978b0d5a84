// The leak rules (README "Leak suspects") over one collection's inventory. The creator-gone test
// needs the processes' start times from /proc/<pid>/stat, which is why this lives in collect/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <unordered_map>
#include <vector>

#include "agent/collect/proc_file.h"
#include "model/ipc_objects.h"
#include "model/settings.h"

namespace ipctrail {

// The process whose semget made a semaphore array, as BPF's lifecycle events tell it (the kernel
// keeps no creator pid for arrays). The daemon gathers them (agent/daemon/array_creators.h).
struct ArrayCreator {
  std::int64_t pid = 0;        // tgid
  std::int64_t created_s = 0;  // when the semget returned, unix seconds
  // IPC_PRIVATE or IPC_EXCL: the call surely made a new array. Without, it may have found one.
  bool surely_created = false;
};
// By semid.
using ArrayCreators = std::unordered_map<int, ArrayCreator>;

class LeakFinder {
 public:
  explicit LeakFinder(std::filesystem::path procfs_root = "/proc");

  // Replaces `out` with the suspects among `inventory` at `now_ms` (unix milliseconds).
  // `array_creators`: the arrays whose creator is known; such an array is a suspect only when its
  // creator is gone (or its pid reused).
  void find(const IpcInventory& inventory, std::int64_t now_ms, const Config::Leaks& rules,
            std::vector<LeakSuspect>& out, const ArrayCreators& array_creators = {});

  // The known creator of `array`: the one at its id, when the array's kernel ctime is not before
  // that semget's second (give or take one for BPF's clock), and, for a semget that may have found
  // an existing array, is that second. Null when unknown.
  static const ArrayCreator* creator_of(const IpcObject& array, const ArrayCreators& creators);

  // Whether `pid` is the process that was there at `at` (unix seconds): false when no such
  // process exists, or when the live one started after `at` (the pid was reused). True when it
  // cannot tell (pid 0: outside our pid namespace), so that doubt never makes a suspect. What it
  // learns of a pid is kept until the next find(): one creator of thousands of segments costs one
  // read of /proc/<pid>/stat a collection, not one a segment.
  bool alive_since(std::int64_t pid, std::int64_t at);

 private:
  struct Process {
    bool alive = true;
    std::optional<std::int64_t> started;  // unix seconds; unknown: never taken for a reuse
  };
  Process look_up(std::int64_t pid);

  std::filesystem::path root_;
  std::unordered_map<std::int64_t, Process> processes_;
  ProcFile file_;
  std::optional<std::int64_t> boot_time_;  // /proc/stat btime, unix seconds
  long ticks_per_second_;
};

}  // namespace ipctrail
