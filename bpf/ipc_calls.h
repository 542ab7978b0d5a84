/* Shared by ipc_calls.bpf.c and its loader: the layout of the counters, the per-process counts and
 * the lifecycle events (docs/design.md §6). The order of both enums is the order of
 * model/ipc_call_counts.h (checked by the loader at compile time).
 */
#ifndef IPCTRAIL_BPF_IPC_CALLS_H
#define IPCTRAIL_BPF_IPC_CALLS_H

enum ipc_call {
  IPC_CALL_SEMGET,
  IPC_CALL_SEMOP,
  IPC_CALL_SEMTIMEDOP,
  IPC_CALL_SEMCTL,
  IPC_CALL_MSGGET,
  IPC_CALL_MSGSND,
  IPC_CALL_MSGRCV,
  IPC_CALL_MSGCTL,
  IPC_CALL_SHMGET,
  IPC_CALL_SHMAT,
  IPC_CALL_SHMDT,
  IPC_CALL_SHMCTL,
  IPC_CALL_COUNT,
};

enum ipc_errno_class {
  IPC_ERRNO_ENOSPC,
  IPC_ERRNO_EAGAIN,
  IPC_ERRNO_EIDRM,
  IPC_ERRNO_EACCES,
  IPC_ERRNO_EINVAL,
  IPC_ERRNO_ENOMEM,
  IPC_ERRNO_EEXIST,
  IPC_ERRNO_ENOENT,
  IPC_ERRNO_E2BIG,
  IPC_ERRNO_EINTR,
  IPC_ERRNO_OTHER,
  IPC_ERRNO_CLASS_COUNT,
};

/* The watched IPC namespace's counters on one CPU; also one other namespace's counters (shared by
 * every CPU, atomic adds) in the map of every namespace. */
struct ipc_call_counts {
  unsigned long long calls[IPC_CALL_COUNT];
  unsigned long long failures[IPC_CALL_COUNT][IPC_ERRNO_CLASS_COUNT];
};

/* Where the fexit programs find the syscall's arguments, by the kind of function they attach to. */
enum fentry_arguments {
  FENTRY_ARGUMENTS_UNKNOWN,   /* another architecture: fentry mode sends no lifecycle events */
  FENTRY_ARGUMENTS_IN_REGS,   /* __x64_sys_<name>(const struct pt_regs*) */
  FENTRY_ARGUMENTS_AS_VALUES, /* __se_sys_<name>(long, long, long) */
};

/* The outcome of a call in a per-process key: success, or 1 + its errno class. */
#define IPC_OUTCOME_SUCCESS 0

/* One process's calls to one call with one outcome, in one counting epoch (a hash map key; the
 * program zeroes it whole, padding included, because the kernel hashes every byte). The IPC
 * namespace is not in it: every key is the watched namespace's. 32 bytes, hashed on each call. */
struct process_call_key {
  unsigned long long cgroup; /* bpf_get_current_cgroup_id: cgroup v2 directory inode */
  unsigned int tgid;         /* the process id in the initial pid namespace */
  unsigned char epoch;       /* 0 or 1: user space reads the epoch the programs left */
  unsigned char call;        /* enum ipc_call */
  unsigned char outcome;     /* IPC_OUTCOME_SUCCESS or 1 + enum ipc_errno_class */
  unsigned char padding;
  char comm[16];
};

/* Another IPC namespace's counts in one counting epoch (`namespaces: all`): read and deleted each
 * tick, like the per-process counts, so the map holds only the namespaces that made calls since
 * the previous reading. */
struct namespace_call_key {
  unsigned int ipc_namespace; /* inode */
  unsigned int epoch;         /* 0 or 1 */
};

enum lifecycle_action {
  LIFECYCLE_CREATED,
  LIFECYCLE_REMOVED,
};

enum lifecycle_kind {
  LIFECYCLE_SEMAPHORE,
  LIFECYCLE_QUEUE,
  LIFECYCLE_SHARED_MEMORY,
};

/* A successful *get with IPC_CREAT, or a successful *ctl(IPC_RMID), through the ring buffer. */
struct lifecycle_record {
  unsigned long long boot_ns; /* bpf_ktime_get_boot_ns at the call's exit */
  unsigned long long cgroup;
  unsigned int tgid;
  unsigned int tid;
  unsigned int uid;
  unsigned int ipc_namespace;
  int id;               /* the id returned (created) or removed */
  int key;              /* created: the key asked for */
  unsigned int flags;   /* created: the get's flags */
  unsigned char action; /* enum lifecycle_action */
  unsigned char kind;   /* enum lifecycle_kind */
  unsigned short padding;
  char comm[16];
};

#endif
