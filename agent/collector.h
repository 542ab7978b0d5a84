// The collector: reads the kernel's System V IPC state into a Sample. It knows procfs and the
// *ctl calls, and nothing of storage or alerts.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "agent/proc_file.h"
#include "agent/sample.h"

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
  // Limits change rarely; re-reading them once a minute keeps the tick cheap.
  std::chrono::steady_clock::duration limits_refresh = std::chrono::seconds(60);
};

class Collector {
 public:
  explicit Collector(CollectorOptions options);

  // Fills `sample` (reusing its storage) with the current state; never throws on kernel faults:
  // an unavailable source leaves its part empty and is logged once until it comes back.
  void collect(Sample& sample);
  Sample collect();

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

  void collect_semaphores(Sample& sample);
  void collect_queues(Sample& sample);
  void collect_shared_memory(Sample& sample);
  void refresh_limits(Limits& limits);
  std::optional<std::uint64_t> read_number(const char* name);
  std::string path(const char* relative) const;

  CollectorOptions options_;
  std::uint64_t page_size_;
  ProcFile file_;
  Limits limits_;
  std::optional<std::chrono::steady_clock::time_point> limits_read_at_;
  SourceState sem_state_{"semaphores"};
  SourceState msg_state_{"message queues"};
  SourceState shm_state_{"shared memory"};
  SourceState limits_state_{"IPC limits"};
};

}  // namespace ipctrail
