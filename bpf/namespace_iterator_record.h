/* What the BPF task iterator (namespace_iterator.bpf.c) writes for each process, read by
 * namespace_iterator.cpp: shared by the BPF program and user space, so plain C. */
#ifndef IPCTRAIL_BPF_NAMESPACE_ITERATOR_RECORD_H
#define IPCTRAIL_BPF_NAMESPACE_ITERATOR_RECORD_H

#include <linux/types.h>

struct process_ipc_namespace {
  __u32 tgid;  /* in the initial pid namespace's numbering */
  __u32 inode; /* of the process's IPC namespace, as /proc/<pid>/ns/ipc shows it */
};

#endif
