/* Counts every System V IPC system call and its failures by errno class, in the one IPC namespace
 * watched, leaving out the calls of the agent itself (its collector's semctl/msgctl calls would
 * otherwise be most of the counts on a quiet host). Beside those exact namespace totals it counts
 * the same calls per process and outcome, and sends the creations and removals of objects through
 * a ring buffer: who made the calls (docs/design.md §6). With `namespaces: all` it also counts the
 * calls of every other IPC namespace, by namespace (docs/design.md §9).
 * Each call has six programs: a tracepoint pair, an fentry/fexit pair and a kprobe/kretprobe
 * pair; the loader switches off the pairs it does not use, so one object serves every attach mode
 * (and, with per-process counts, the entry programs that have nothing to remember).
 */
/* bpf_helpers.h needs the types of linux/bpf.h first. */
// clang-format off
#include <linux/bpf.h>
#include <linux/errno.h>
#include <linux/ipc.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
// clang-format on

#include "bpf/ipc_calls.h"

#include "bpf/kernel_types.h"

char LICENSE[] SEC("license") = "GPL";

/* The kernel's restart codes (include/linux/errno.h, not in the UAPI): a signal interrupted the
 * call; user space sees EINTR or the call restarts. */
#define ERESTARTSYS 512
#define ERESTART_RESTARTBLOCK 516

/* Set by the loader before loading (the skeleton's rodata), so the verifier sees constants:
 * the watched namespace's inode, and the agent's tgid as seen from its own pid namespace (named by
 * the device and inode of its /proc/self/ns/pid). An agent in the initial pid namespace is
 * recognised by a plain tgid comparison, without the pid namespace helper on every call. */
const volatile __u32 watched_ipc_namespace = 0;
const volatile __u64 agent_pid_namespace_device = 0;
const volatile __u64 agent_pid_namespace_inode = 0;
const volatile __u32 agent_tgid = 0;
const volatile __u32 agent_in_initial_pid_namespace = 0;
/* Whether to count per process and send lifecycle events (off: only the namespace totals, as the
 * benchmark's baseline); and where the fexit programs find the syscall's arguments.
 * With per-process counts, a call is counted whole at its exit, under its process (user space
 * sums the processes into the totals): the two always agree, and the entry programs are loaded
 * only where a lifecycle event needs the arguments (the gets and ctls of the tracepoint and kprobe
 * modes).
 * Without, calls are counted at their entry, as before per-process counts existed. */
const volatile __u32 track_processes = 0;
/* Whether to count the calls of the other IPC namespaces too (`namespaces: all`; only with
 * track_processes, whose epoch and grace period read them exactly). Off, a call of another
 * namespace costs what it always did: one comparison. */
const volatile __u32 count_other_namespaces = 0;
const volatile __u32 fentry_arguments = FENTRY_ARGUMENTS_UNKNOWN; /* enum fentry_arguments */

/* Written by user space through the skeleton's memory-mapped .bss. The programs put their
 * per-process counts under the current epoch; user space flips it, waits for an RCU grace period
 * (every program that read the old epoch has then returned), and reads and deletes the old
 * epoch's keys, which no program touches any more: no count is lost or counted twice. */
__u32 counting_epoch = 0;
/* Never silent: calls the per-process map had no room for, and lifecycle events that did not
 * reach the ring buffer (full, or the remembered arguments missing). Cumulative; atomic adds. */
__u64 calls_not_attributed = 0;
__u64 events_lost = 0;
/* Calls of other namespaces that found the namespace map full; cumulative, never silent. */
__u64 other_namespace_calls_lost = 0;
/* Never written: the zeroed value a new namespace's counts start from (too large for the stack). */
struct ipc_call_counts no_calls = {};

/* One slot per CPU, allocated when the map is created: the programs never allocate (a run-time
 * allocation from a tracing program warns before kernel 6.1 and is refused on PREEMPT_RT), and
 * nothing is left behind when a namespace dies. With per-process counts it holds only the calls
 * the per-process map had no room for: the others are counted under their process alone, and user
 * space sums those into the totals (IpcCallCounter::read), which so stay exact for one lookup and
 * one atomic add a call. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct ipc_call_counts);
} watched_counts SEC(".maps");

/* Per-process counts, preallocated (no BPF_F_NO_PREALLOC): a tracing program never allocates.
 * max_entries is set by the loader (16384 by default). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, struct process_call_key);
  __type(value, __u64);
} process_calls SEC(".maps");

/* The other namespaces' counts, by namespace and epoch, preallocated; every tick user space reads
 * and deletes the old epoch's. max_entries is set by the loader (1024 by default, 1 when only the
 * watched namespace is counted): about 1.2 KiB per entry. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, struct namespace_call_key);
  __type(value, struct ipc_call_counts);
} other_namespace_counts SEC(".maps");

/* What a *get or *ctl(IPC_RMID) asked for, from its entry to its exit, per thread. */
struct pending_lifecycle {
  __u32 call;
  int key_or_id;
  __u32 flags;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, struct pending_lifecycle);
} pending_lifecycles SEC(".maps");

/* Lifecycle events; the loader sets the size (256 KiB by default). */
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} lifecycle_events SEC(".maps");

/* tgid: the caller's, in the initial pid namespace (which its key also needs). */
static __always_inline int is_agent_tgid(__u32 tgid) {
  if (agent_in_initial_pid_namespace) return tgid == agent_tgid;
  struct bpf_pidns_info caller = {};
  /* Fails for a task of another pid namespace: not the agent. */
  if (bpf_get_ns_current_pid_tgid(agent_pid_namespace_device, agent_pid_namespace_inode, &caller,
                                  sizeof caller) != 0) {
    return 0;
  }
  return caller.tgid == agent_tgid;
}

static __always_inline int is_agent(void) {
  return is_agent_tgid(bpf_get_current_pid_tgid() >> 32);
}

/* The inode of a task's IPC namespace. */
static __always_inline __u32 ipc_namespace_of(struct task_struct* task) {
  return task->nsproxy->ipc_ns->ns.inum;
}

static __always_inline __u32 current_ipc_namespace(void) {
  return ipc_namespace_of(bpf_get_current_task_btf());
}

/* Whether the current task's call is counted: in the watched namespace, and not the agent's. */
static __always_inline int is_watched(void) {
  return current_ipc_namespace() == watched_ipc_namespace && !is_agent();
}

/* The counters of the watched namespace. */
static __always_inline struct ipc_call_counts* namespace_counts(void) {
  __u32 slot = 0;
  return bpf_map_lookup_elem(&watched_counts, &slot);
}

static __always_inline enum ipc_errno_class errno_class(long error) {
  switch (error) {
    case ENOSPC:
      return IPC_ERRNO_ENOSPC;
    case EAGAIN:
      return IPC_ERRNO_EAGAIN;
    case EIDRM:
      return IPC_ERRNO_EIDRM;
    case EACCES:
      return IPC_ERRNO_EACCES;
    case EINVAL:
      return IPC_ERRNO_EINVAL;
    case ENOMEM:
      return IPC_ERRNO_ENOMEM;
    case EEXIST:
      return IPC_ERRNO_EEXIST;
    case ENOENT:
      return IPC_ERRNO_ENOENT;
    case E2BIG:
      return IPC_ERRNO_E2BIG;
    case EINTR:
      return IPC_ERRNO_EINTR;
  }
  if (error >= ERESTARTSYS && error <= ERESTART_RESTARTBLOCK) return IPC_ERRNO_EINTR;
  return IPC_ERRNO_OTHER;
}

/* Atomic adds keep the counts exact even when a task is preempted mid-update on its CPU. */
static __always_inline void count_call(enum ipc_call call) {
  struct ipc_call_counts* counts = namespace_counts();
  if (counts) __sync_fetch_and_add(&counts->calls[call], 1);
}

static __always_inline void count_result(enum ipc_call call, long ret) {
  if (ret >= 0) return;
  struct ipc_call_counts* counts = namespace_counts();
  if (counts) __sync_fetch_and_add(&counts->failures[call][errno_class(-ret)], 1);
}

/* One more call of this process with this outcome, under the current epoch. A new key is inserted
 * with BPF_NOEXIST, never replacing an element another CPU may be adding to. Returns 0 when a
 * full map (E2BIG) or a busy bucket (EBUSY) left the call unattributed. */
static __always_inline int count_process_call(enum ipc_call call, long ret,
                                              struct task_struct* task, __u32 tgid) {
  struct process_call_key key;
  __builtin_memset(&key, 0, sizeof key);
  __u32 epoch = *(volatile __u32*)&counting_epoch;
  key.epoch = epoch;
  key.tgid = tgid;
  /* Read through the task, as bpf_get_current_cgroup_id does, without the helper's call. */
  key.cgroup = task->cgroups->dfl_cgrp->kn->id;
  key.call = call;
  key.outcome = ret >= 0 ? IPC_OUTCOME_SUCCESS : 1 + errno_class(-ret);
  /* Read straight from the task: what bpf_get_current_comm copies (the kernel keeps comm
   * NUL-padded, strscpy_pad in __set_task_comm), without the helper's call and string copy. */
  __builtin_memcpy(key.comm, task->comm, sizeof key.comm);
  __u64* count = bpf_map_lookup_elem(&process_calls, &key);
  if (!count) {
    __u64 one = 1;
    long error = bpf_map_update_elem(&process_calls, &key, &one, BPF_NOEXIST);
    if (error == 0) return 1;
    if (error == -EEXIST) count = bpf_map_lookup_elem(&process_calls, &key);
  }
  if (!count) return 0;
  __sync_fetch_and_add(count, 1);
  return 1;
}

static __always_inline int is_get(enum ipc_call call) {
  return call == IPC_CALL_SEMGET || call == IPC_CALL_MSGGET || call == IPC_CALL_SHMGET;
}

static __always_inline int is_ctl(enum ipc_call call) {
  return call == IPC_CALL_SEMCTL || call == IPC_CALL_MSGCTL || call == IPC_CALL_SHMCTL;
}

/* semget(key, nsems, flags), msgget(key, flags), shmget(key, size, flags); semctl(id, num, cmd),
 * msgctl(id, cmd, buf), shmctl(id, cmd, buf): where the flags or the command are. */
static __always_inline int flags_or_command_argument(enum ipc_call call) {
  return call == IPC_CALL_MSGGET || call == IPC_CALL_MSGCTL || call == IPC_CALL_SHMCTL ? 1 : 2;
}

/* Whether a call with these arguments can make a lifecycle event: a get with IPC_CREAT, a ctl
 * with IPC_RMID (libc may add IPC_64, 0x100, to the command). Both are C ints: the kernel ignores
 * the register's upper half, and so does this check. */
static __always_inline int may_change_lifecycle(enum ipc_call call, unsigned int flags_or_cmd) {
  if (is_get(call)) return (flags_or_cmd & IPC_CREAT) != 0;
  if (is_ctl(call)) return (flags_or_cmd & ~(unsigned int)IPC_64) == IPC_RMID;
  return 0;
}

static __always_inline enum lifecycle_kind kind_of(enum ipc_call call) {
  if (call == IPC_CALL_SEMGET || call == IPC_CALL_SEMCTL) return LIFECYCLE_SEMAPHORE;
  if (call == IPC_CALL_MSGGET || call == IPC_CALL_MSGCTL) return LIFECYCLE_QUEUE;
  return LIFECYCLE_SHARED_MEMORY;
}

/* Sends the event of a successful call; a full ring buffer drops it and counts it. Failures never
 * come here, so a burst of them cannot flood the buffer. */
static __always_inline void send_lifecycle(enum ipc_call call, int key_or_id, __u32 flags,
                                           long ret) {
  struct lifecycle_record* record =
      bpf_ringbuf_reserve(&lifecycle_events, sizeof(struct lifecycle_record), 0);
  if (!record) {
    __sync_fetch_and_add(&events_lost, 1);
    return;
  }
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  record->boot_ns = bpf_ktime_get_boot_ns();
  record->cgroup = bpf_get_current_cgroup_id();
  record->tgid = pid_tgid >> 32;
  record->tid = (__u32)pid_tgid;
  record->uid = (__u32)bpf_get_current_uid_gid();
  record->ipc_namespace = watched_ipc_namespace;
  record->kind = kind_of(call);
  record->padding = 0;
  if (is_get(call)) {
    record->action = LIFECYCLE_CREATED;
    record->id = (int)ret;
    record->key = key_or_id;
    record->flags = flags;
  } else {
    record->action = LIFECYCLE_REMOVED;
    record->id = key_or_id;
    record->key = 0;
    record->flags = 0;
  }
  bpf_get_current_comm(record->comm, sizeof record->comm);
  bpf_ringbuf_submit(record, 0);
}

/* At the entry (sys_enter, kprobe): remember the key (or id) and the flags (or command) until the
 * exit tells the result. A full map loses the event, counted. */
static __always_inline void remember_lifecycle(enum ipc_call call, unsigned long key_or_id,
                                               unsigned int flags_or_cmd) {
  if (!may_change_lifecycle(call, flags_or_cmd)) return;
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  struct pending_lifecycle pending = {call, (int)key_or_id, flags_or_cmd};
  if (bpf_map_update_elem(&pending_lifecycles, &tid, &pending, BPF_ANY) != 0) {
    __sync_fetch_and_add(&events_lost, 1);
  }
}

/* At the exit (sys_exit, kretprobe): the remembered call's event, if it succeeded. */
static __always_inline void finish_lifecycle(enum ipc_call call, long ret) {
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  struct pending_lifecycle* pending = bpf_map_lookup_elem(&pending_lifecycles, &tid);
  if (!pending) return;
  struct pending_lifecycle asked = *pending;
  bpf_map_delete_elem(&pending_lifecycles, &tid);
  if (asked.call == call && ret >= 0) send_lifecycle(call, asked.key_or_id, asked.flags, ret);
}

/* With per-process counts, loaded for the gets and ctls only: they remember their arguments. */
static __always_inline void tracepoint_enter(enum ipc_call call,
                                             struct syscall_enter_context* ctx) {
  if (!is_watched()) return;
  if (!track_processes) {
    count_call(call);
  } else if (is_get(call) || is_ctl(call)) {
    remember_lifecycle(call, ctx->args[0],
                       (unsigned int)ctx->args[flags_or_command_argument(call)]);
  }
}

/* A finished call, counted whole in this one run: under its process, whose counts user space adds
 * to the totals, or, when the per-process map has no room, in the totals' slot and as not
 * attributed (never silent). */
static __always_inline void count_finished_call(enum ipc_call call, long ret,
                                                struct task_struct* task, __u32 tgid) {
  if (count_process_call(call, ret, task, tgid)) return;
  __sync_fetch_and_add(&calls_not_attributed, 1);
  struct ipc_call_counts* counts = namespace_counts();
  if (counts) {
    __sync_fetch_and_add(&counts->calls[call], 1);
    if (ret < 0) __sync_fetch_and_add(&counts->failures[call][errno_class(-ret)], 1);
  }
}

/* A finished call of another namespace, counted whole in that namespace's counts under the
 * current epoch. A new key is inserted with BPF_NOEXIST (never replacing counts another CPU adds
 * to); a full map (E2BIG) or a busy bucket loses the call, counted. */
static __always_inline void count_other_namespace_call(__u32 ipc_namespace, enum ipc_call call,
                                                       long ret) {
  struct namespace_call_key key = {ipc_namespace, *(volatile __u32*)&counting_epoch};
  struct ipc_call_counts* counts = bpf_map_lookup_elem(&other_namespace_counts, &key);
  if (!counts) {
    long error = bpf_map_update_elem(&other_namespace_counts, &key, &no_calls, BPF_NOEXIST);
    if (error == 0 || error == -EEXIST) counts = bpf_map_lookup_elem(&other_namespace_counts, &key);
  }
  if (!counts) {
    __sync_fetch_and_add(&other_namespace_calls_lost, 1);
    return;
  }
  __sync_fetch_and_add(&counts->calls[call], 1);
  if (ret < 0) __sync_fetch_and_add(&counts->failures[call][errno_class(-ret)], 1);
}

/* At a call's exit: whether it is the watched namespace's to count, with the caller's task and
 * tgid (read once: the per-process key needs them too). Another namespace's call is counted here,
 * with every namespace counted (never the agent's: its sampler thread visits every namespace and
 * calls semctl there). */
static __always_inline int watched_at_exit(enum ipc_call call, long ret, struct task_struct** task,
                                           __u32* tgid) {
  struct task_struct* current = bpf_get_current_task_btf();
  __u32 ipc_namespace = ipc_namespace_of(current);
  if (ipc_namespace != watched_ipc_namespace) {
    if (count_other_namespaces && !is_agent()) count_other_namespace_call(ipc_namespace, call, ret);
    return 0;
  }
  *task = current;
  *tgid = current->tgid; /* what bpf_get_current_pid_tgid() >> 32 gives, without the call */
  return !is_agent_tgid(*tgid);
}

/* Also the kretprobe's exit: both see only the result, the arguments were remembered. */
static __always_inline void tracepoint_exit(enum ipc_call call, long ret) {
  struct task_struct* task = 0;
  __u32 tgid = 0;
  if (!watched_at_exit(call, ret, &task, &tgid)) return;
  if (!track_processes) {
    count_result(call, ret);
    return;
  }
  count_finished_call(call, ret, task, tgid);
  if (is_get(call) || is_ctl(call)) finish_lifecycle(call, ret);
}

/* Argument n of a syscall from the user registers an x86-64 syscall function (__x64_sys_<name>)
 * receives; fails on other architectures, whose pt_regs has no such fields. */
static __always_inline int argument_in_regs(const struct pt_regs* regs, int n,
                                            unsigned long* value) {
  if (!bpf_core_field_exists(struct pt_regs, di)) return -1;
  if (n == 0) return bpf_core_read(value, sizeof *value, &regs->di);
  if (n == 1) return bpf_core_read(value, sizeof *value, &regs->si);
  return bpf_core_read(value, sizeof *value, &regs->dx);
}

/* Argument n of the syscall function fexit is attached to, where fentry_arguments says it is. */
static __always_inline int syscall_argument(void* ctx, int n, unsigned long* value) {
  __u64 raw = 0;
  if (fentry_arguments == FENTRY_ARGUMENTS_AS_VALUES) {
    if (bpf_get_func_arg(ctx, n, &raw) != 0) return -1;
    *value = raw;
    return 0;
  }
  if (fentry_arguments != FENTRY_ARGUMENTS_IN_REGS) return -1;
  if (bpf_get_func_arg(ctx, 0, &raw) != 0) return -1;
  return argument_in_regs((const struct pt_regs*)raw, n, value);
}

/* Loaded without per-process counts only: fexit then counts the whole call. */
static __always_inline void fentry_enter(enum ipc_call call) {
  if (is_watched()) count_call(call);
}

/* fexit sees the arguments and the result together: no need to remember anything. */
static __always_inline void fentry_exit(enum ipc_call call, void* ctx) {
  __u64 ret = 0;
  bpf_get_func_ret(ctx, &ret);
  struct task_struct* task = 0;
  __u32 tgid = 0;
  if (!watched_at_exit(call, (long)ret, &task, &tgid)) return;
  if (!track_processes) {
    count_result(call, (long)ret);
    return;
  }
  count_finished_call(call, (long)ret, task, tgid);
  if (!is_get(call) && !is_ctl(call)) return;
  unsigned long key_or_id = 0;
  unsigned long flags_or_cmd = 0;
  if (syscall_argument(ctx, 0, &key_or_id) != 0 ||
      syscall_argument(ctx, flags_or_command_argument(call), &flags_or_cmd) != 0) {
    return;
  }
  if ((long)ret >= 0 && may_change_lifecycle(call, (unsigned int)flags_or_cmd)) {
    send_lifecycle(call, (int)key_or_id, (__u32)flags_or_cmd, (long)ret);
  }
}

/* The kprobe on __x64_sys_<name> (the loader attaches only there): the function's first argument,
 * in the probe's own registers, points at the user registers holding the syscall's arguments.
 * Like the tracepoint, the entry remembers what the exit (kretprobe) needs. */
static __always_inline void kprobe_enter(enum ipc_call call, struct pt_regs* ctx) {
  if (!is_watched()) return;
  if (!track_processes) {
    count_call(call);
    return;
  }
  if (!(is_get(call) || is_ctl(call))) return;
  const struct pt_regs* user_regs = (const struct pt_regs*)ctx->di;
  unsigned long key_or_id = 0;
  unsigned long flags_or_cmd = 0;
  if (argument_in_regs(user_regs, 0, &key_or_id) != 0 ||
      argument_in_regs(user_regs, flags_or_command_argument(call), &flags_or_cmd) != 0) {
    return;
  }
  remember_lifecycle(call, key_or_id, (unsigned int)flags_or_cmd);
}

/* The fentry/fexit and kprobe/kretprobe targets are chosen by the loader (the syscall function's
 * name depends on the architecture, e.g. __x64_sys_semget), hence the bare
 * "fentry"/"fexit"/"kprobe"/"kretprobe" sections. */
#define IPC_CALL_PROGRAMS(name, call)                      \
  SEC("tracepoint/syscalls/sys_enter_" #name)              \
  int tp_enter_##name(struct syscall_enter_context* ctx) { \
    tracepoint_enter(call, ctx);                           \
    return 0;                                              \
  }                                                        \
  SEC("tracepoint/syscalls/sys_exit_" #name)               \
  int tp_exit_##name(struct syscall_exit_context* ctx) {   \
    tracepoint_exit(call, ctx->ret);                       \
    return 0;                                              \
  }                                                        \
  SEC("fentry")                                            \
  int fentry_##name(void* ctx) {                           \
    fentry_enter(call);                                    \
    return 0;                                              \
  }                                                        \
  SEC("fexit")                                             \
  int fexit_##name(void* ctx) {                            \
    fentry_exit(call, ctx);                                \
    return 0;                                              \
  }                                                        \
  SEC("kprobe")                                            \
  int kprobe_##name(struct pt_regs* ctx) {                 \
    kprobe_enter(call, ctx);                               \
    return 0;                                              \
  }                                                        \
  SEC("kretprobe")                                         \
  int kretprobe_##name(struct pt_regs* ctx) {              \
    tracepoint_exit(call, (long)ctx->ax);                  \
    return 0;                                              \
  }

IPC_CALL_PROGRAMS(semget, IPC_CALL_SEMGET)
IPC_CALL_PROGRAMS(semop, IPC_CALL_SEMOP)
IPC_CALL_PROGRAMS(semtimedop, IPC_CALL_SEMTIMEDOP)
IPC_CALL_PROGRAMS(semctl, IPC_CALL_SEMCTL)
IPC_CALL_PROGRAMS(msgget, IPC_CALL_MSGGET)
IPC_CALL_PROGRAMS(msgsnd, IPC_CALL_MSGSND)
IPC_CALL_PROGRAMS(msgrcv, IPC_CALL_MSGRCV)
IPC_CALL_PROGRAMS(msgctl, IPC_CALL_MSGCTL)
IPC_CALL_PROGRAMS(shmget, IPC_CALL_SHMGET)
IPC_CALL_PROGRAMS(shmat, IPC_CALL_SHMAT)
IPC_CALL_PROGRAMS(shmdt, IPC_CALL_SHMDT)
IPC_CALL_PROGRAMS(shmctl, IPC_CALL_SHMCTL)
