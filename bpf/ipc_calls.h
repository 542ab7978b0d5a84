/* Shared by ipc_calls.bpf.c and its loader: the layout of the counters in the BPF map.
 * The order of both enums is the order of model/ipc_call_counts.h (checked there at compile time).
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

/* The watched IPC namespace's counters on one CPU. */
struct ipc_call_counts {
  unsigned long long calls[IPC_CALL_COUNT];
  unsigned long long failures[IPC_CALL_COUNT][IPC_ERRNO_CLASS_COUNT];
};

#endif
