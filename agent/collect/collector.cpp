#include "agent/collect/collector.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/collect/sysvipc_parse.h"
#include "model/time_parse.h"

namespace ipctrail {

namespace {

std::string describe_errno(int error) {
  return std::strerror(error);
}

// The longest row /proc/sysvipc prints, with room to spare: shm's, 16 numbers of at most 20
// digits each and their padding (ipc/shm.c sysvipc_shm_proc_show) come to under 400 bytes.
constexpr std::size_t kLongestSysvipcRow = 512;

}  // namespace

void Collector::SourceState::ok() {
  if (failing_) spdlog::info("{}: available again", what_);
  failing_ = false;
}

void Collector::SourceState::failed(const std::string& detail) {
  if (!failing_) spdlog::warn("{}: {}; this part is skipped until it comes back", what_, detail);
  failing_ = true;
}

Collector::Collector(CollectorOptions options)
    : options_(std::move(options)),
      page_size_(static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE))),
      leak_finder_(options_.procfs_root) {}

std::string Collector::path(const char* relative) const {
  return (options_.procfs_root / relative).string();
}

Sample Collector::collect() {
  Sample sample;
  collect(sample);
  return sample;
}

void Collector::collect(Sample& sample) {
  collect(sample, ArrayCreators{});
}

bool Collector::collect(Sample& sample, const std::function<bool()>& enter) {
  enter_ = &enter;
  Step step = collect_parts(sample, ArrayCreators{});
  enter_ = nullptr;
  return step == Step::kDone;
}

Collector::Step Collector::be_inside() {
  return enter_ == nullptr || (*enter_)() ? Step::kDone : Step::kRefused;
}

void Collector::collect(Sample& sample, const ArrayCreators& array_creators) {
  // Without an `enter` every step runs where the thread is, and none is refused.
  static_cast<void>(collect_parts(sample, array_creators));
}

Collector::Step Collector::collect_parts(Sample& sample, const ArrayCreators& array_creators) {
  sample.ts_ms = unix_now_ms();
  sample.skipped_lines = 0;
  sample.semaphores.reset();
  sample.semaphore_arrays.reset();
  sample.shm_segments.reset();
  sample.shm_bytes.reset();
  sample.shm_pages.reset();
  sample.faults = {};
  if (!options_.inventory || !options_.semaphores) sample.objects.semaphores.reset();
  if (!options_.inventory || !options_.message_queues) sample.objects.queues.reset();
  if (!options_.inventory || !options_.shared_memory) sample.objects.segments.reset();
  if (options_.semaphores && collect_semaphores(sample) == Step::kRefused) return Step::kRefused;
  if (options_.message_queues) {
    if (collect_queues(sample) == Step::kRefused) return Step::kRefused;
  } else {
    sample.queues.reset();
  }
  if (options_.shared_memory && collect_shared_memory(sample) == Step::kRefused) {
    return Step::kRefused;
  }
  if (sample.faults.any()) ++faulty_collections_;
  if (options_.inventory && options_.leaks.enabled) {
    if (!sample.leak_suspects) sample.leak_suspects.emplace();
    leak_finder_.find(sample.objects, sample.ts_ms, options_.leaks, *sample.leak_suspects,
                      array_creators);
  } else {
    sample.leak_suspects.reset();
  }

  auto now = std::chrono::steady_clock::now();
  if (!limits_read_at_ || now - *limits_read_at_ >= options_.limits_refresh) {
    if (refresh_limits(limits_) == Step::kRefused) return Step::kRefused;
    limits_read_at_ = now;
  }
  sample.limits = limits_;
  return Step::kDone;
}

Collector::Step Collector::collect_semaphores(Sample& sample) {
  if (options_.use_syscalls && options_.keep_tables_open && options_.inventory) {
    // Another namespace's table, held open: its rows are what SEM_INFO counts, and reading them
    // needs no setns.
    if (collect_objects(IpcKind::kSemaphore, sample, sem_state_) == Step::kRefused) {
      return Step::kRefused;
    }
    if (!sample.objects.semaphores) {
      sample.faults.semaphores = true;
      return Step::kDone;
    }
    SemaphoreTotals totals = semaphore_totals(*sample.objects.semaphores);
    sample.semaphores = totals.semaphores;
    sample.semaphore_arrays = totals.arrays;
    return Step::kDone;
  }
  if (options_.use_syscalls) {
    if (be_inside() == Step::kRefused) return Step::kRefused;
    seminfo info{};
    if (::semctl(0, 0, SEM_INFO, &info) < 0) {
      sem_state_.failed("semctl(SEM_INFO) failed: " + describe_errno(errno));
      sample.faults.semaphores = true;
      return Step::kDone;
    }
    sem_state_.ok();
    sample.semaphores = static_cast<std::uint64_t>(info.semaem);
    sample.semaphore_arrays = static_cast<std::uint64_t>(info.semusz);
    if (!options_.inventory) return Step::kDone;
    return collect_objects(IpcKind::kSemaphore, sample, sem_objects_state_);
  }
  if (options_.inventory &&
      collect_objects(IpcKind::kSemaphore, sample, sem_objects_state_) == Step::kRefused) {
    return Step::kRefused;
  }
  std::string file = path("sysvipc/sem");
  std::optional<ProcFile::Result> read = read_table(IpcKind::kSemaphore, file);
  if (!read) return Step::kRefused;
  SemaphoreTotals totals;
  if (read->error != 0) {
    sem_state_.failed("cannot read " + file + ": " + describe_errno(read->error));
    sample.faults.semaphores = true;
    return Step::kDone;
  }
  ParseOutcome outcome = parse_sem_table(read->text, totals);
  if (!outcome.header_ok) {
    sem_state_.failed(file + " does not start with the expected header (key semid ... nsems)");
    sample.faults.semaphores = true;
    return Step::kDone;
  }
  sem_state_.ok();
  sample.skipped_lines += outcome.skipped_lines;
  sample.semaphores = totals.semaphores;
  sample.semaphore_arrays = totals.arrays;
  return Step::kDone;
}

Collector::Step Collector::collect_objects(IpcKind kind, Sample& sample, SourceState& state) {
  std::string file = path(kind == IpcKind::kSemaphore ? "sysvipc/sem"
                          : kind == IpcKind::kQueue   ? "sysvipc/msg"
                                                      : "sysvipc/shm");
  auto& objects = sample.objects.of(kind);
  std::optional<ProcFile::Result> read = read_table(kind, file);
  if (!read) return Step::kRefused;
  if (read->error != 0) {
    state.failed("cannot read " + file + ": " + describe_errno(read->error));
    objects.reset();
    return Step::kDone;
  }
  ParsedTable& parsed = parsed_[static_cast<std::size_t>(kind)];
  if (parsed.valid && objects && objects->size() == parsed.rows && read->text == parsed.text) {
    state.ok();  // the same text: the same objects, as parsed last time
    sample.skipped_lines += parsed.skipped_lines;
    return Step::kDone;
  }
  parsed.valid = false;
  if (!objects) objects.emplace();
  objects->clear();
  ParseOutcome outcome = parse_object_table(kind, read->text, *objects);
  if (!outcome.header_ok) {
    state.failed(file + " does not start with the expected header");
    objects.reset();
    return Step::kDone;
  }
  state.ok();
  sample.skipped_lines += outcome.skipped_lines;
  if (options_.keep_tables_open) {
    parsed.text.assign(read->text);
    parsed.rows = objects->size();
    parsed.skipped_lines = outcome.skipped_lines;
    parsed.valid = true;
  }
  return Step::kDone;
}

std::optional<ProcFile::Result> Collector::read_table(IpcKind kind, const std::string& file) {
  if (!options_.keep_tables_open) {
    if (be_inside() == Step::kRefused) return std::nullopt;
    return file_.read(file);
  }
  UniqueFd& table = tables_[static_cast<std::size_t>(kind)];
  if (table.get() < 0) {
    // A table shows the namespace it was opened in.
    if (be_inside() == Step::kRefused) return std::nullopt;
    table = UniqueFd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  }
  if (table.get() < 0) return ProcFile::Result{{}, errno};
  ProcFile::Result read = file_.read(table.get(), kLongestSysvipcRow);
  if (read.error != 0) table.close();  // opened again next time, should the kernel recover
  return read;
}

Collector::Step Collector::collect_queues(Sample& sample) {
  if (options_.inventory) {
    if (collect_objects(IpcKind::kQueue, sample, msg_state_) == Step::kRefused) {
      return Step::kRefused;
    }
    if (!sample.objects.queues) {
      sample.queues.reset();
      sample.faults.queues = true;
      return Step::kDone;
    }
    if (!sample.queues) sample.queues.emplace();
    sample.queues->clear();
    append_queues(*sample.objects.queues, *sample.queues);
    if (!options_.use_syscalls) return Step::kDone;
    if (fill_queue_capacities(*sample.queues) == Step::kRefused) return Step::kRefused;
    // append_queues made one MessageQueue per object, in the same order.
    for (std::size_t i = 0; i < sample.queues->size(); ++i) {
      (*sample.objects.queues)[i].qbytes = (*sample.queues)[i].capacity_bytes;
    }
    return Step::kDone;
  }
  std::string file = path("sysvipc/msg");
  std::optional<ProcFile::Result> read = read_table(IpcKind::kQueue, file);
  if (!read) return Step::kRefused;
  if (read->error != 0) {
    msg_state_.failed("cannot read " + file + ": " + describe_errno(read->error));
    sample.queues.reset();
    sample.faults.queues = true;
    return Step::kDone;
  }
  if (!sample.queues) sample.queues.emplace();
  sample.queues->clear();
  ParseOutcome outcome = parse_msg_table(read->text, *sample.queues);
  if (!outcome.header_ok) {
    msg_state_.failed(file + " does not start with the expected header (key msqid ... qnum)");
    sample.queues.reset();
    sample.faults.queues = true;
    return Step::kDone;
  }
  msg_state_.ok();
  sample.skipped_lines += outcome.skipped_lines;
  if (!options_.use_syscalls || !options_.queue_capacity) return Step::kDone;
  return fill_queue_capacities(*sample.queues);
}

Collector::Step Collector::fill_queue_capacities(std::vector<MessageQueue>& queues) {
  ++collections_;
  std::int64_t now = unix_now_ms() / 1000;
  std::string failure;
  for (MessageQueue& queue : queues) {
    QueueCapacity& known = queue_capacities_[queue.msqid];
    // ctime counts whole seconds: an IPC_SET in the same second as our read would leave it
    // unchanged, so a queue changed in the second it was read is read once more.
    bool fresh = known.seen_in != 0 && known.changed_at == queue.changed_at &&
                 known.changed_at < known.read_at;
    if (!fresh) {
      if (be_inside() == Step::kRefused) return Step::kRefused;
      // MSG_STAT_ANY (Linux 4.17) needs no read permission on the queue, which IPC_STAT does: the
      // packaged service's user cannot IPC_STAT other users' 0600 queues. It takes an index; the
      // kernel masks an id down to its index, and returns the id of the queue found there.
      msqid_ds status{};
      int found = ::msgctl(queue.msqid, MSG_STAT_ANY, &status);
      if (found == queue.msqid) {
        known.bytes = static_cast<std::uint64_t>(status.msg_qbytes);
        known.changed_at = queue.changed_at;
        known.read_at = now;
      } else {
        // EINVAL/EIDRM, or another queue at its index: the queue went away after /proc listed
        // it; it is gone next time.
        if (found < 0 && errno != EINVAL && errno != EIDRM && failure.empty()) {
          failure = fmt::format("msgctl({}, MSG_STAT_ANY) failed: {}", queue.msqid,
                                describe_errno(errno));
        }
        queue_capacities_.erase(queue.msqid);
        continue;
      }
    }
    known.seen_in = collections_;
    queue.capacity_bytes = known.bytes;
  }
  std::erase_if(queue_capacities_,
                [this](const auto& entry) { return entry.second.seen_in != collections_; });
  if (failure.empty()) {
    capacity_state_.ok();
  } else {
    capacity_state_.failed(failure + " (MSG_STAT_ANY needs Linux 4.17 or later)");
  }
  return Step::kDone;
}

Collector::Step Collector::collect_shared_memory(Sample& sample) {
  if (options_.inventory) {
    if (collect_objects(IpcKind::kSharedMemory, sample, shm_state_) == Step::kRefused) {
      return Step::kRefused;
    }
    if (!sample.objects.segments) {
      sample.faults.shared_memory = true;
      return Step::kDone;
    }
    SharedMemoryTotals totals = shared_memory_totals(*sample.objects.segments, page_size_);
    sample.shm_segments = totals.segments;
    sample.shm_bytes = totals.bytes;
    sample.shm_pages = totals.pages;
    return Step::kDone;
  }
  std::string file = path("sysvipc/shm");
  std::optional<ProcFile::Result> read = read_table(IpcKind::kSharedMemory, file);
  if (!read) return Step::kRefused;
  if (read->error != 0) {
    shm_state_.failed("cannot read " + file + ": " + describe_errno(read->error));
    sample.faults.shared_memory = true;
    return Step::kDone;
  }
  SharedMemoryTotals totals;
  ParseOutcome outcome = parse_shm_table(read->text, page_size_, totals);
  if (!outcome.header_ok) {
    shm_state_.failed(file + " does not start with the expected header (key shmid ... size)");
    sample.faults.shared_memory = true;
    return Step::kDone;
  }
  shm_state_.ok();
  sample.skipped_lines += outcome.skipped_lines;
  sample.shm_segments = totals.segments;
  sample.shm_bytes = totals.bytes;
  sample.shm_pages = totals.pages;
  return Step::kDone;
}

std::optional<std::uint64_t> Collector::read_number(const char* name) {
  ProcFile::Result read = file_.read(path(name));
  if (read.error != 0) return std::nullopt;
  return parse_single_number(read.text);
}

Collector::Step Collector::refresh_limits(Limits& limits) {
  // The sysctls and IPC_INFO answer for the caller's namespace.
  if (be_inside() == Step::kRefused) return Step::kRefused;
  limits = Limits{};
  ProcFile::Result sem = file_.read(path("sys/kernel/sem"));
  if (auto parsed = sem.error == 0 ? parse_sem_limits(sem.text) : std::nullopt) {
    limits.semmsl = parsed->semmsl;
    limits.semmns = parsed->semmns;
    limits.semopm = parsed->semopm;
    limits.semmni = parsed->semmni;
  }
  limits.msgmni = read_number("sys/kernel/msgmni");
  limits.msgmnb = read_number("sys/kernel/msgmnb");
  limits.msgmax = read_number("sys/kernel/msgmax");
  limits.shmmni = read_number("sys/kernel/shmmni");
  limits.shmall = read_number("sys/kernel/shmall");
  limits.shmmax = read_number("sys/kernel/shmmax");

  if (options_.use_syscalls) {
    // The *ctl(IPC_INFO) answers fill whatever procfs could not (a kernel without sysctl files).
    seminfo sem_info{};
    if (!limits.semmni && ::semctl(0, 0, IPC_INFO, &sem_info) >= 0) {
      limits.semmsl = static_cast<std::uint64_t>(sem_info.semmsl);
      limits.semmns = static_cast<std::uint64_t>(sem_info.semmns);
      limits.semopm = static_cast<std::uint64_t>(sem_info.semopm);
      limits.semmni = static_cast<std::uint64_t>(sem_info.semmni);
    }
    msginfo msg_info{};
    if ((!limits.msgmni || !limits.msgmnb || !limits.msgmax) &&
        ::msgctl(0, IPC_INFO, reinterpret_cast<msqid_ds*>(&msg_info)) >= 0) {
      if (!limits.msgmni) limits.msgmni = static_cast<std::uint64_t>(msg_info.msgmni);
      if (!limits.msgmnb) limits.msgmnb = static_cast<std::uint64_t>(msg_info.msgmnb);
      if (!limits.msgmax) limits.msgmax = static_cast<std::uint64_t>(msg_info.msgmax);
    }
    struct shminfo shm_info {};
    if ((!limits.shmmni || !limits.shmall || !limits.shmmax) &&
        ::shmctl(0, IPC_INFO, reinterpret_cast<shmid_ds*>(&shm_info)) >= 0) {
      if (!limits.shmmni) limits.shmmni = static_cast<std::uint64_t>(shm_info.shmmni);
      if (!limits.shmall) limits.shmall = static_cast<std::uint64_t>(shm_info.shmall);
      if (!limits.shmmax) limits.shmmax = static_cast<std::uint64_t>(shm_info.shmmax);
    }
  }

  bool all_known = true;
  for (const NamedLimit& limit : named_limits(limits)) all_known = all_known && limit.value;
  if (all_known) {
    limits_state_.ok();
  } else {
    limits_state_.failed("some limits are unknown (neither " + path("sys/kernel") +
                         " nor IPC_INFO answered)");
  }
  return Step::kDone;
}

}  // namespace ipctrail
