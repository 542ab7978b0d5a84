/* Counts every System V IPC system call and its failures by errno class, in the one IPC namespace
 * watched, leaving out the calls of the agent itself (its collector's semctl/msgctl calls would
 * otherwise be most of the counts on a quiet host).
 * Each call has four programs: a tracepoint pair and an fentry/fexit pair; the loader switches
 * off the pair it does not use, so one object serves both attach modes.
 */
/* bpf_helpers.h needs the types of linux/bpf.h first. */
// clang-format off
#include <linux/bpf.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>
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
 * the device and inode of its /proc/self/ns/pid). */
const volatile __u32 watched_ipc_namespace = 0;
const volatile __u64 agent_pid_namespace_device = 0;
const volatile __u64 agent_pid_namespace_inode = 0;
const volatile __u32 agent_tgid = 0;

/* One slot per CPU, allocated when the map is created: the programs never allocate (a run-time
 * allocation from a tracing program warns before kernel 6.1 and is refused on PREEMPT_RT), and
 * nothing is left behind when a namespace dies. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct ipc_call_counts);
} watched_counts SEC(".maps");

static __always_inline int is_agent(void) {
  struct bpf_pidns_info caller = {};
  /* Fails for a task of another pid namespace: not the agent. */
  if (bpf_get_ns_current_pid_tgid(agent_pid_namespace_device, agent_pid_namespace_inode, &caller,
                                  sizeof caller) != 0) {
    return 0;
  }
  return caller.tgid == agent_tgid;
}

/* The counters of the watched namespace, or null for a call not to count. */
static __always_inline struct ipc_call_counts* namespace_counts(void) {
  struct task_struct* task = bpf_get_current_task_btf();
  if (task->nsproxy->ipc_ns->ns.inum != watched_ipc_namespace || is_agent()) return 0;
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

/* The fentry/fexit targets are chosen by the loader (the syscall function's name depends on the
 * architecture, e.g. __x64_sys_semget), hence the bare "fentry"/"fexit" sections. */
#define IPC_CALL_PROGRAMS(name, call)                    \
  SEC("tracepoint/syscalls/sys_enter_" #name)            \
  int tp_enter_##name(void* ctx) {                       \
    count_call(call);                                    \
    return 0;                                            \
  }                                                      \
  SEC("tracepoint/syscalls/sys_exit_" #name)             \
  int tp_exit_##name(struct syscall_exit_context* ctx) { \
    count_result(call, ctx->ret);                        \
    return 0;                                            \
  }                                                      \
  SEC("fentry")                                          \
  int fentry_##name(void* ctx) {                         \
    count_call(call);                                    \
    return 0;                                            \
  }                                                      \
  SEC("fexit")                                           \
  int fexit_##name(void* ctx) {                          \
    __u64 ret = 0;                                       \
    bpf_get_func_ret(ctx, &ret);                         \
    count_result(call, (long)ret);                       \
    return 0;                                            \
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
