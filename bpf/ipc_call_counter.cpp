#include "bpf/ipc_call_counter.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/membarrier.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>
#include <vector>

#include "bpf/bpf_probe.h"
#include "bpf/ipc_calls.h"
#include "bpf/ipc_calls.skel.h"

namespace ipctrail {

static_assert(IPC_CALL_COUNT == kIpcCallCount && IPC_ERRNO_CLASS_COUNT == kErrnoClassCount);
static_assert(LIFECYCLE_SEMAPHORE == static_cast<int>(IpcKind::kSemaphore) &&
              LIFECYCLE_QUEUE == static_cast<int>(IpcKind::kQueue) &&
              LIFECYCLE_SHARED_MEMORY == static_cast<int>(IpcKind::kSharedMemory) &&
              LIFECYCLE_CREATED == static_cast<int>(LifecycleAction::kCreated) &&
              LIFECYCLE_REMOVED == static_cast<int>(LifecycleAction::kRemoved));
static_assert(IPC_CALL_SHMCTL == index_of(IpcCall::kShmctl) &&
              IPC_CALL_MSGSND == index_of(IpcCall::kMsgsnd) &&
              IPC_ERRNO_OTHER == index_of(ErrnoClass::kOther) &&
              IPC_ERRNO_EINTR == index_of(ErrnoClass::kEINTR));

std::string_view to_string(BpfMode mode) {
  switch (mode) {
    case BpfMode::kAuto:
      return "auto";
    case BpfMode::kTracepoint:
      return "tracepoint";
    case BpfMode::kFentry:
      return "fentry";
    case BpfMode::kKprobe:
      return "kprobe";
  }
  return "auto";
}

std::optional<BpfMode> parse_bpf_mode(std::string_view text) {
  for (BpfMode mode : {BpfMode::kAuto, BpfMode::kTracepoint, BpfMode::kFentry, BpfMode::kKprobe}) {
    if (text == to_string(mode)) return mode;
  }
  return std::nullopt;
}

double unrelated_syscall_ns() {
  constexpr int kRounds = 15;
  constexpr int kCallsPerRound = 2000;
  std::vector<double> per_call(kRounds);
  for (double& ns : per_call) {
    auto start = std::chrono::steady_clock::now();
    for (int call = 0; call < kCallsPerRound; ++call) ::syscall(SYS_getppid);
    std::chrono::duration<double, std::nano> elapsed = std::chrono::steady_clock::now() - start;
    ns = elapsed.count() / kCallsPerRound;
  }
  std::nth_element(per_call.begin(), per_call.begin() + kRounds / 2, per_call.end());
  return per_call[kRounds / 2];
}

namespace {

std::vector<std::string_view> call_names() {
  return {kIpcCallNames.begin(), kIpcCallNames.end()};
}

// Device and inode of one of this process's namespaces (/proc/self/ns/<kind>).
std::optional<struct stat> own_namespace(const char* kind, std::string& failure) {
  std::string path = fmt::format("/proc/self/ns/{}", kind);
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) {
    failure = fmt::format("cannot identify this process's {} namespace ({}: {})", kind, path,
                          std::strerror(errno));
    return std::nullopt;
  }
  return status;
}

// What the programs are told before loading: whose calls to count, and whose to leave out.
struct ProgramConstants {
  std::uint32_t watched_ipc_namespace = 0;
  std::uint64_t agent_pid_namespace_device = 0;
  std::uint64_t agent_pid_namespace_inode = 0;
  std::uint32_t agent_tgid = 0;
  bool agent_in_initial_pid_namespace = false;
  bool track_processes = false;
  bool count_other_namespaces = false;
  std::uint32_t process_map_entries = 0;
  std::uint32_t ring_buffer_bytes = 0;
  std::uint32_t namespace_map_entries = 0;
};

// The inode of the initial pid namespace (PROC_PID_INIT_INO, include/linux/proc_ns.h): fixed,
// whatever the host. There, a task's tgid is the one the programs see.
constexpr ino_t kInitialPidNamespaceInode = 0xEFFFFFFCU;

// The grace period read_processes() waits for: membarrier(MEMBARRIER_CMD_GLOBAL) is
// synchronize_rcu(), after which every BPF program that started before it has returned.
bool grace_period_available() {
  long commands = ::syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  return commands > 0 && (commands & MEMBARRIER_CMD_GLOBAL) != 0;
}

// Where the fexit programs find the syscall's arguments, from the function they attach to.
std::uint32_t fentry_arguments_of(std::string_view function) {
  if (function.starts_with("__x64_sys_")) return FENTRY_ARGUMENTS_IN_REGS;
  if (function.starts_with("__se_sys_") || function.starts_with("sys_")) {
    return FENTRY_ARGUMENTS_AS_VALUES;
  }
  return FENTRY_ARGUMENTS_UNKNOWN;
}

struct SkeletonDeleter {
  void operator()(ipc_calls* skeleton) const { ipc_calls__destroy(skeleton); }
};
using Skeleton = std::unique_ptr<ipc_calls, SkeletonDeleter>;

// open() checked the privilege first, so a refusal here comes from kernel policy: on lockdown
// kernels (integrity mode) fentry programs are refused with EPERM even for root.
std::string libbpf_failure(std::string_view step, int error, BpfMode mode) {
  if (error == EPERM || error == EACCES) {
    return fmt::format(
        "{} was refused by the kernel ({}) although this process is privileged: kernel lockdown "
        "(/sys/kernel/security/lockdown) or a security module forbids it; fix: {}",
        step, std::strerror(error),
        mode == BpfMode::kFentry   ? "use bpf.mode kprobe or tracepoint"
        : mode == BpfMode::kKprobe ? "use bpf.mode tracepoint"
                                   : "bpf.enabled false");
  }
  return fmt::format("{} failed: {} (--log-level debug shows libbpf's details)", step,
                     std::strerror(error));
}

// The call a program counts, from its name (<kind>_<call>), or -1.
int call_of_program(std::string_view program, std::string_view kind) {
  if (!program.starts_with(kind) || program.size() <= kind.size() + 1 ||
      program[kind.size()] != '_') {
    return -1;
  }
  std::string_view call = program.substr(kind.size() + 1);
  auto found = std::find(kIpcCallNames.begin(), kIpcCallNames.end(), call);
  return found == kIpcCallNames.end() ? -1 : static_cast<int>(found - kIpcCallNames.begin());
}

// Whether a call's entry program remembers its arguments for a lifecycle event: the gets
// (IPC_CREAT) and the ctls (IPC_RMID).
bool remembers_arguments(int call) {
  IpcCall ipc_call = static_cast<IpcCall>(call);
  return ipc_call == IpcCall::kSemget || ipc_call == IpcCall::kMsgget ||
         ipc_call == IpcCall::kShmget || ipc_call == IpcCall::kSemctl ||
         ipc_call == IpcCall::kMsgctl || ipc_call == IpcCall::kShmctl;
}

// Attaches the kprobe/kretprobe programs to `functions`, keeping each link in the skeleton (which
// destroys them with itself). libbpf cannot attach a bare SEC("kprobe") by itself.
bool attach_kprobes(ipc_calls* skeleton, const std::vector<std::string>& functions,
                    std::string& failure) {
  const bpf_object_skeleton* programs = skeleton->skeleton;
  for (int index = 0; index < programs->prog_cnt; ++index) {
    bpf_program* program = *programs->progs[index].prog;
    std::string_view name = bpf_program__name(program);
    int entry = call_of_program(name, "kprobe");
    int exit = call_of_program(name, "kretprobe");
    int call = std::max(entry, exit);
    if (call < 0 || !bpf_program__autoload(program)) continue;
    const std::string& function = functions[static_cast<std::size_t>(call)];
    bpf_link* link = bpf_program__attach_kprobe(program, exit >= 0, function.c_str());
    if (!link) {
      failure = libbpf_failure(fmt::format("attaching {} to {}", name, function), errno,
                               BpfMode::kKprobe);
      return false;
    }
    *programs->progs[index].link = link;
  }
  return true;
}

// Switches on only the programs of `mode` (pointing fentry/fexit and kprobes at `functions`),
// loads and attaches them. Fills `failure` and returns null when any step fails.
Skeleton open_in_mode(BpfMode mode, const std::vector<std::string>& functions,
                      const ProgramConstants& constants, std::string& failure) {
  Skeleton skeleton(ipc_calls__open());
  if (!skeleton) {
    failure = libbpf_failure("opening the embedded BPF object", errno, mode);
    return nullptr;
  }
  skeleton->rodata->watched_ipc_namespace = constants.watched_ipc_namespace;
  skeleton->rodata->agent_pid_namespace_device = constants.agent_pid_namespace_device;
  skeleton->rodata->agent_pid_namespace_inode = constants.agent_pid_namespace_inode;
  skeleton->rodata->agent_tgid = constants.agent_tgid;
  skeleton->rodata->agent_in_initial_pid_namespace =
      constants.agent_in_initial_pid_namespace ? 1 : 0;
  skeleton->rodata->track_processes = constants.track_processes ? 1 : 0;
  skeleton->rodata->count_other_namespaces = constants.count_other_namespaces ? 1 : 0;
  if (mode == BpfMode::kFentry || mode == BpfMode::kKprobe) {
    skeleton->rodata->fentry_arguments = fentry_arguments_of(functions.front());
  }
  // Without per-process tracking the maps are never written: keep them at their smallest.
  std::uint32_t entries = constants.track_processes ? constants.process_map_entries : 1;
  std::uint32_t ring_bytes = constants.track_processes
                                 ? constants.ring_buffer_bytes
                                 : static_cast<std::uint32_t>(::sysconf(_SC_PAGESIZE));
  if (int error = bpf_map__set_max_entries(skeleton->maps.process_calls, entries); error != 0) {
    failure = libbpf_failure("sizing the per-process map", -error, mode);
    return nullptr;
  }
  if (int error = bpf_map__set_max_entries(skeleton->maps.lifecycle_events, ring_bytes);
      error != 0) {
    failure = libbpf_failure("sizing the lifecycle ring buffer", -error, mode);
    return nullptr;
  }
  std::uint32_t namespaces = constants.count_other_namespaces ? constants.namespace_map_entries : 1;
  if (int error = bpf_map__set_max_entries(skeleton->maps.other_namespace_counts, namespaces);
      error != 0) {
    failure = libbpf_failure("sizing the map of every namespace", -error, mode);
    return nullptr;
  }
  // With per-process counts the exit programs count each call whole; an entry program is only
  // needed where a lifecycle event needs the arguments (fexit has them itself).
  auto entry_wanted = [&constants](int call) {
    return call >= 0 && (!constants.track_processes || remembers_arguments(call));
  };
  bpf_program* program = nullptr;
  bpf_object__for_each_program(program, skeleton->obj) {
    std::string_view name = bpf_program__name(program);
    bool wanted = false;
    if (mode == BpfMode::kTracepoint) {
      wanted =
          entry_wanted(call_of_program(name, "tp_enter")) || call_of_program(name, "tp_exit") >= 0;
    } else if (mode == BpfMode::kKprobe) {
      wanted =
          entry_wanted(call_of_program(name, "kprobe")) || call_of_program(name, "kretprobe") >= 0;
      bpf_program__set_autoattach(program, false);
    } else {
      int entry = call_of_program(name, "fentry");
      int call = std::max(entry, call_of_program(name, "fexit"));
      if (call >= 0 && (entry < 0 || !constants.track_processes)) {
        wanted = true;
        int error = bpf_program__set_attach_target(
            program, 0, functions[static_cast<std::size_t>(call)].c_str());
        if (error != 0) {
          failure =
              libbpf_failure(fmt::format("pointing {} at {}", name, functions[call]), -error, mode);
          return nullptr;
        }
      }
    }
    bpf_program__set_autoload(program, wanted);
  }
  if (int error = ipc_calls__load(skeleton.get()); error != 0) {
    failure = libbpf_failure(fmt::format("loading the {} programs", to_string(mode)), -error, mode);
    return nullptr;
  }
  if (int error = ipc_calls__attach(skeleton.get()); error != 0) {
    failure =
        libbpf_failure(fmt::format("attaching the {} programs", to_string(mode)), -error, mode);
    return nullptr;
  }
  if (mode == BpfMode::kKprobe) {
    // Checked after loading, so that a kernel without kprobes still has the verifier check the
    // kprobe programs (and the kernel tests with it).
    if (auto unavailable = bpf_probe::kprobes_unavailable()) {
      failure = *unavailable;
      return nullptr;
    }
    if (!attach_kprobes(skeleton.get(), functions, failure)) return nullptr;
  }
  return skeleton;
}

// Probes `mode`, then opens it; fills `failure` when it cannot be used.
Skeleton try_mode(BpfMode mode, const ProgramConstants& constants, std::string& failure) {
  std::vector<std::string_view> calls = call_names();
  std::vector<std::string> functions;
  if (mode == BpfMode::kTracepoint) {
    if (auto unavailable = bpf_probe::tracepoints_unavailable(calls)) {
      failure = *unavailable;
      return nullptr;
    }
  } else {
    bpf_probe::SyscallFunctions found = bpf_probe::find_syscall_functions(calls);
    if (found.names.empty()) {
      failure = found.failure;
      return nullptr;
    }
    functions = std::move(found.names);
    // The kprobe programs read the arguments and the result from x86-64 registers.
    if (mode == BpfMode::kKprobe &&
        fentry_arguments_of(functions.front()) != FENTRY_ARGUMENTS_IN_REGS) {
      failure = fmt::format(
          "kprobe mode reads x86-64 registers, and the syscall functions here are {} and the "
          "like; fix: use bpf.mode fentry or tracepoint",
          functions.front());
      return nullptr;
    }
  }
  return open_in_mode(mode, functions, constants, failure);
}

}  // namespace

IpcCallCounterOpening IpcCallCounter::open(const IpcCallCounterOptions& options) {
  bpf_probe::route_libbpf_messages_to_log();

  IpcCallCounterOpening opening;
  if (auto missing = bpf_probe::missing_privilege()) {
    opening.failure = *missing;
    return opening;
  }
  ProgramConstants constants;
  constants.watched_ipc_namespace = options.ipc_namespace_inode;
  if (constants.watched_ipc_namespace == 0) {
    auto own_ipc = own_namespace("ipc", opening.failure);
    if (!own_ipc) return opening;
    constants.watched_ipc_namespace = static_cast<std::uint32_t>(own_ipc->st_ino);
  }
  auto own_pid = own_namespace("pid", opening.failure);
  if (!own_pid) return opening;
  constants.agent_pid_namespace_device = own_pid->st_dev;
  constants.agent_pid_namespace_inode = own_pid->st_ino;
  constants.agent_tgid = static_cast<std::uint32_t>(::getpid());
  constants.agent_in_initial_pid_namespace = own_pid->st_ino == kInitialPidNamespaceInode;
  constants.track_processes = options.per_process;
  constants.process_map_entries = options.process_map_entries;
  constants.ring_buffer_bytes = options.ring_buffer_bytes;
  if (constants.track_processes && !grace_period_available()) {
    spdlog::warn(
        "the calls are not attributed to processes: the kernel refuses "
        "membarrier(MEMBARRIER_CMD_GLOBAL) (nohz_full?), which reading them exactly needs");
    constants.track_processes = false;
  }
  if (options.every_namespace && !constants.track_processes) {
    spdlog::warn(
        "the calls of other IPC namespaces are not counted: reading them exactly needs the "
        "per-process counting's grace period, which is off");
  }
  constants.count_other_namespaces = options.every_namespace && constants.track_processes;
  constants.namespace_map_entries = options.namespace_map_entries;

  std::vector<BpfMode> modes = {options.mode};
  if (options.mode == BpfMode::kAuto) {
    modes = {BpfMode::kFentry, BpfMode::kKprobe, BpfMode::kTracepoint};
  }
  SyscallTax tax;
  tax.before_ns = unrelated_syscall_ns();
  std::vector<std::string> failures;
  for (BpfMode mode : modes) {
    std::string failure;
    Skeleton skeleton = try_mode(mode, constants, failure);
    // Loading parses the kernel's whole BTF (megabytes, then freed); hand that heap back to the
    // system, or the agent's resident size stays inflated for its whole life.
    ::malloc_trim(0);
    if (skeleton) {
      for (std::size_t tried = 0; tried < failures.size(); ++tried) {
        spdlog::debug("BPF {} mode unavailable: {}", to_string(modes[tried]), failures[tried]);
      }
      tax.after_ns = unrelated_syscall_ns();
      opening.counter.reset(
          new IpcCallCounter(skeleton.release(), mode, constants.watched_ipc_namespace,
                             constants.track_processes, constants.count_other_namespaces));
      if (constants.track_processes && !opening.counter->lifecycle_events_) {
        opening.counter.reset();
        failures.push_back(libbpf_failure("opening the lifecycle ring buffer", errno, mode));
        continue;
      }
      opening.counter->syscall_tax_ = tax;
      return opening;
    }
    failures.push_back(std::move(failure));
  }
  if (failures.size() == 1) {
    opening.failure = failures.front();
    return opening;
  }
  for (std::size_t tried = 0; tried < failures.size(); ++tried) {
    opening.failure +=
        fmt::format("{}{}: {}", tried == 0 ? "" : "; ", to_string(modes[tried]), failures[tried]);
  }
  return opening;
}

namespace {

// The ring buffer's callback: one lifecycle record into `events` (timestamps are converted to
// wall-clock time by read_processes, once per batch).
int keep_lifecycle_record(void* events, void* data, std::size_t size) {
  if (size < sizeof(lifecycle_record)) return 0;
  lifecycle_record record{};
  std::memcpy(&record, data, sizeof record);
  LifecycleEvent event;
  event.ts_ms = static_cast<std::int64_t>(record.boot_ns);  // boot ns until converted
  event.action = static_cast<LifecycleAction>(record.action);
  event.kind = static_cast<IpcKind>(record.kind);
  event.id = record.id;
  if (event.action == LifecycleAction::kCreated) {
    event.key = record.key;
    event.flags = record.flags;
  }
  event.process = {static_cast<std::int32_t>(record.tgid),
                   std::string(record.comm, ::strnlen(record.comm, sizeof record.comm)),
                   record.cgroup, record.ipc_namespace};
  event.tid = static_cast<std::int32_t>(record.tid);
  event.uid = record.uid;
  static_cast<std::vector<LifecycleEvent>*>(events)->push_back(std::move(event));
  return 0;
}

std::int64_t clock_ns(clockid_t clock) {
  timespec now{};
  ::clock_gettime(clock, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

// Wall-clock unix milliseconds of a bpf_ktime_get_boot_ns() reading: the boot clock's value now
// is subtracted from the real-time clock's now, and the event's boot time added. Exact to the
// moment of reading, except that a step of the wall clock (settimeofday, NTP step) between the
// event and the reading moves the event with it.
std::int64_t unix_ms_of_boot_ns(std::int64_t boot_ns, std::int64_t realtime_minus_boottime_ns) {
  return (boot_ns + realtime_minus_boottime_ns) / 1'000'000;
}

}  // namespace

IpcCallCounter::IpcCallCounter(ipc_calls* skeleton, BpfMode mode, std::uint32_t namespace_inode,
                               bool tracking_processes, bool counting_every_namespace)
    : skeleton_(skeleton),
      mode_(mode),
      namespace_inode_(namespace_inode),
      tracking_processes_(tracking_processes),
      counting_every_namespace_(counting_every_namespace) {
  if (tracking_processes_) {
    lifecycle_events_ = ring_buffer__new(bpf_map__fd(skeleton_->maps.lifecycle_events),
                                         keep_lifecycle_record, &pending_events_, nullptr);
  }
}

IpcCallCounter::~IpcCallCounter() {
  ring_buffer__free(lifecycle_events_);
  ipc_calls__destroy(skeleton_);
}

namespace {

// The old epoch's keys of a map whose keys carry an `epoch` member: quiescent after the grace
// period (the programs insert only new-epoch keys meanwhile, which the iteration skips).
template <typename Key>
std::vector<Key> keys_of_epoch(int map, std::uint32_t epoch) {
  std::vector<Key> keys;
  Key key{};
  Key next{};
  const Key* previous = nullptr;
  while (bpf_map_get_next_key(map, previous, &next) == 0) {
    if (next.epoch == epoch) keys.push_back(next);
    key = next;
    previous = &key;
  }
  return keys;
}

// The program's counters as the model's (the layouts differ: C arrays against std::array).
IpcCallCounts counts_of(const ipc_call_counts& counts) {
  IpcCallCounts model;
  for (std::size_t call = 0; call < kIpcCallCount; ++call) {
    model.calls[call] = counts.calls[call];
    for (std::size_t error_class = 0; error_class < kErrnoClassCount; ++error_class) {
      model.failures[call][error_class] = counts.failures[call][error_class];
    }
  }
  return model;
}

// Adds `count` calls of a per-process key to the totals of its call and outcome.
void add_to_totals(IpcCallCounts& totals, const process_call_key& key, std::uint64_t count) {
  totals.calls[key.call] += count;
  if (key.outcome != IPC_OUTCOME_SUCCESS) totals.failures[key.call][key.outcome - 1] += count;
}

}  // namespace

void IpcCallCounter::take_other_namespaces(std::uint32_t old_epoch, NamespaceCallCounts* into) {
  int map = bpf_map__fd(skeleton_->maps.other_namespace_counts);
  for (const namespace_call_key& old : keys_of_epoch<namespace_call_key>(map, old_epoch)) {
    ipc_call_counts counts{};
    if (bpf_map_lookup_elem(map, &old, &counts) != 0) {
      throw std::system_error(errno, std::generic_category(), "reading a namespace's counts");
    }
    if (bpf_map_delete_elem(map, &old) != 0) {
      throw std::system_error(errno, std::generic_category(), "deleting a namespace's counts");
    }
    if (into) (*into)[old.ipc_namespace] += counts_of(counts);
  }
}

IpcCallLosses IpcCallCounter::losses() const {
  IpcCallLosses losses;
  const bpf_object_skeleton* programs = skeleton_->skeleton;
  for (int index = 0; index < programs->prog_cnt; ++index) {
    bpf_program* program = *programs->progs[index].prog;
    if (!bpf_program__autoload(program)) continue;
    bpf_prog_info info{};
    std::uint32_t length = sizeof info;
    if (bpf_obj_get_info_by_fd(bpf_program__fd(program), &info, &length) != 0) {
      throw std::system_error(errno, std::generic_category(), "describing a BPF program");
    }
    losses.recursion_misses += info.recursion_misses;
  }
  losses.other_namespace_calls = std::atomic_ref(skeleton_->bss->other_namespace_calls_lost).load();
  return losses;
}

ProcessActivity IpcCallCounter::read_processes(NamespaceCallCounts* other_namespaces) {
  ProcessActivity activity;
  if (!tracking_processes_) return activity;

  // Flip the epoch, then wait until every program that may still use the old one has returned.
  std::atomic_ref epoch(skeleton_->bss->counting_epoch);
  std::uint32_t old_epoch = epoch.load();
  epoch.store(old_epoch ^ 1);
  if (::syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) != 0) {
    throw std::system_error(errno, std::generic_category(), "waiting for an RCU grace period");
  }

  // The old epoch's keys are quiescent: read and delete each.
  if (counting_every_namespace_) take_other_namespaces(old_epoch, other_namespaces);
  int map = bpf_map__fd(skeleton_->maps.process_calls);
  std::vector<process_call_key> old_keys = keys_of_epoch<process_call_key>(map, old_epoch);
  activity.calls.reserve(old_keys.size());
  for (const process_call_key& old : old_keys) {
    std::uint64_t count = 0;
    if (bpf_map_lookup_elem(map, &old, &count) != 0) {
      throw std::system_error(errno, std::generic_category(), "reading the per-process counts");
    }
    if (bpf_map_delete_elem(map, &old) != 0) {
      throw std::system_error(errno, std::generic_category(), "deleting a per-process count");
    }
    if (count == 0) continue;
    add_to_totals(attributed_, old, count);
    ProcessCallCount call;
    call.process = {static_cast<std::int32_t>(old.tgid),
                    std::string(old.comm, ::strnlen(old.comm, sizeof old.comm)), old.cgroup,
                    namespace_inode_};
    call.call = static_cast<IpcCall>(old.call);
    if (old.outcome != IPC_OUTCOME_SUCCESS) call.error = static_cast<ErrnoClass>(old.outcome - 1);
    call.count = count;
    activity.calls.push_back(std::move(call));
  }

  pending_events_.clear();
  if (int consumed = ring_buffer__consume(lifecycle_events_); consumed < 0) {
    throw std::system_error(-consumed, std::generic_category(), "reading the lifecycle events");
  }
  std::int64_t offset = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME);
  for (LifecycleEvent& event : pending_events_) {
    event.ts_ms = unix_ms_of_boot_ns(event.ts_ms, offset);
  }
  activity.events = std::move(pending_events_);
  pending_events_.clear();

  activity.calls_not_attributed = std::atomic_ref(skeleton_->bss->calls_not_attributed).load();
  activity.events_lost = std::atomic_ref(skeleton_->bss->events_lost).load();
  return activity;
}

IpcCallCounts IpcCallCounter::read() const {
  std::vector<ipc_call_counts> per_cpu(static_cast<std::size_t>(libbpf_num_possible_cpus()));
  std::uint32_t slot = 0;
  int error = bpf_map__lookup_elem(skeleton_->maps.watched_counts, &slot, sizeof slot,
                                   per_cpu.data(), per_cpu.size() * sizeof(ipc_call_counts), 0);
  IpcCallCounts totals;
  if (error != 0) {
    throw std::system_error(-error, std::generic_category(), "reading the BPF call counters");
  }
  for (const ipc_call_counts& cpu : per_cpu) totals += counts_of(cpu);
  if (!tracking_processes_) return totals;
  // The programs counted the other calls under their process alone: those read and deleted so
  // far, and those still in the map (only this object deletes keys, so the walk sees each once).
  totals += attributed_;
  int map = bpf_map__fd(skeleton_->maps.process_calls);
  process_call_key key{};
  const process_call_key* previous = nullptr;
  while (bpf_map_get_next_key(map, previous, &key) == 0) {
    std::uint64_t count = 0;
    if (bpf_map_lookup_elem(map, &key, &count) != 0) {
      throw std::system_error(errno, std::generic_category(), "reading the per-process counts");
    }
    add_to_totals(totals, key, count);
    previous = &key;
  }
  return totals;
}

}  // namespace ipctrail
