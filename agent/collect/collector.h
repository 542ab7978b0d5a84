// The collector: reads the kernel's System V IPC state into a Sample. It knows procfs and the
// *ctl calls, and nothing of storage or alerts.
#pragma once

#include <array>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/collect/leak_finder.h"
#include "agent/collect/proc_file.h"
#include "model/sample.h"
#include "model/unique_fd.h"

namespace ipctrail {

struct CollectorOptions {
  // Root of the procfs tree; tests point it at recorded fixtures.
  std::filesystem::path procfs_root = "/proc";
  // Live kernel: semaphore totals from semctl(SEM_INFO) and limits fall back to *ctl(IPC_INFO).
  // Off for fixtures, where semaphore totals come from <root>/sysvipc/sem instead.
  bool use_syscalls = true;
  bool semaphores = true;
  bool message_queues = true;
  bool shared_memory = true;
  // Each queue's msg_qbytes (for message_queue_bytes_used), live kernel only. One msgctl costs
  // ~7 us (0.2 s for 32,000 queues), so a queue is read when new and again only when its ctime
  // changes (msgctl(IPC_SET) sets it); a steady host makes no msgctl calls at all.
  bool queue_capacity = true;
  // Every object of each kind into Sample::objects (the agent's history keeps them). Off for a
  // one-shot `sample`, which needs only the totals. Queues and segments come from the same single
  // scan of their table as the charts; semaphore arrays add a scan of /proc/sysvipc/sem, while
  // the semaphore charts keep semctl(SEM_INFO) as their source. On the live kernel the inventory
  // includes each queue's msg_qbytes whatever queue_capacity says, read as cheaply as above.
  bool inventory = false;
  // With the inventory and leaks.enabled: the leak rules, into Sample::leak_suspects (left empty
  // when off, which removes the leak alert).
  Config::Leaks leaks;
  // Limits change rarely; re-reading them once a minute keeps the tick cheap.
  std::chrono::steady_clock::duration limits_refresh = std::chrono::seconds(60);
  // Keep each /proc/sysvipc file open after its first read and read it again from its start
  // each time, saving an open and a close per file and collection. Such a file shows the IPC
  // namespace of the thread that opened it for as long as it is open (ipc/util.c
  // sysvipc_proc_open takes current's namespace at open), and keeps that namespace alive: for the
  // namespace sampler's collectors, each used in one namespace only and destroyed when its last
  // process is gone (docs/design.md §9). Such a collector also takes the semaphore totals from
  // the table with the inventory (the arrays it lists and their nsems summed: what
  // semctl(SEM_INFO) counts, ns->used_sems and the arrays in use), so that a tick whose queues
  // and limits need no msgctl makes no call that must run inside the namespace. And a table whose
  // text is byte for byte the one parsed at the last collection keeps the objects parsed then
  // instead of being parsed again (a steady namespace's tables mostly are): so the caller must
  // collect into the same Sample every time and leave its objects alone in between, as the
  // namespace sampler does.
  bool keep_tables_open = false;

  friend bool operator==(const CollectorOptions&, const CollectorOptions&) = default;
};

class Collector {
 public:
  explicit Collector(CollectorOptions options);

  // Fills `sample` (reusing its storage) with the current state; never throws on kernel faults:
  // an unavailable source leaves its part empty, marks it in `sample.faults` (unknown, not
  // empty) and is logged once, and once more when it comes back.
  void collect(Sample& sample);
  Sample collect();
  // The same, with the known creators of semaphore arrays for the leak rules.
  void collect(Sample& sample, const ArrayCreators& array_creators);
  // For a collector of another namespace than its thread's (the namespace sampler's): `enter`
  // moves the thread into the namespace and is called before the first step of a collection that
  // must run inside (opening a table, semctl/msgctl, the limits), not at all when none must.
  // Returns false, with the collection abandoned and `sample` not to be used, when `enter` did.
  bool collect(Sample& sample, const std::function<bool()>& enter);

  // Collections in which at least one source could not be read.
  std::uint64_t faulty_collections() const { return faulty_collections_; }

 private:
  // Tracks whether one kernel source works, so that a failure is logged once, not every tick.
  class SourceState {
   public:
    explicit SourceState(std::string what) : what_(std::move(what)) {}
    void ok();
    void failed(const std::string& detail);

   private:
    std::string what_;
    bool failing_ = false;
  };

  // How a part of a collection ended: kRefused when `enter` could not enter the namespace, which
  // abandons the collection where it stands. Each part returns it at once to its caller, up to
  // collect(sample, enter), which returns false; [[nodiscard]] so that no caller goes on.
  enum class Step { kDone, kRefused };
  // Called before each step that must run in the collector's namespace.
  [[nodiscard]] Step be_inside();
  [[nodiscard]] Step collect_parts(Sample& sample, const ArrayCreators& array_creators);
  [[nodiscard]] Step collect_semaphores(Sample& sample);
  [[nodiscard]] Step collect_queues(Sample& sample);
  [[nodiscard]] Step fill_queue_capacities(std::vector<MessageQueue>& queues);
  [[nodiscard]] Step collect_shared_memory(Sample& sample);
  // Reads one object table into sample.objects; the kind is left empty when it failed.
  [[nodiscard]] Step collect_objects(IpcKind kind, Sample& sample, SourceState& state);
  // Reads /proc/sysvipc/<kind> (`file`), through the kept descriptor with keep_tables_open;
  // empty when the namespace could not be entered to open it.
  [[nodiscard]] std::optional<ProcFile::Result> read_table(IpcKind kind, const std::string& file);
  [[nodiscard]] Step refresh_limits(Limits& limits);
  std::optional<std::uint64_t> read_number(const char* name);
  std::string path(const char* relative) const;

  CollectorOptions options_;
  const std::function<bool()>* enter_ = nullptr;  // during a collect with an `enter`
  std::uint64_t page_size_;
  ProcFile file_;
  std::array<UniqueFd, 3> tables_;  // by IpcKind, with keep_tables_open
  // With keep_tables_open, by IpcKind: the text the Sample's objects of that kind were parsed
  // from, and what that parse gave besides them.
  struct ParsedTable {
    bool valid = false;
    std::string text;
    std::size_t rows = 0;
    std::uint64_t skipped_lines = 0;
  };
  std::array<ParsedTable, 3> parsed_;
  LeakFinder leak_finder_;
  Limits limits_;
  std::optional<std::chrono::steady_clock::time_point> limits_read_at_;
  struct QueueCapacity {
    std::int64_t changed_at = 0;
    std::int64_t read_at = 0;  // unix seconds
    std::uint64_t bytes = 0;
    std::uint64_t seen_in = 0;  // the collection that last saw the queue
  };
  std::unordered_map<int, QueueCapacity> queue_capacities_;
  std::uint64_t collections_ = 0;
  std::uint64_t faulty_collections_ = 0;
  SourceState sem_state_{"semaphores"};
  SourceState msg_state_{"message queues"};
  SourceState shm_state_{"shared memory"};
  SourceState limits_state_{"IPC limits"};
  SourceState sem_objects_state_{"semaphore arrays (/proc/sysvipc/sem)"};
  SourceState capacity_state_{"message queue capacities (msg_qbytes)"};
};

}  // namespace ipctrail
