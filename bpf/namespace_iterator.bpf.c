/* Lists every process's IPC namespace in one read (docs/design.md §9): a task iterator that writes
 * (tgid, IPC namespace inode) of each thread-group leader, what NamespaceScanner otherwise learns
 * from one readlink of /proc/<pid>/ns/ipc per process. An iterator runs its program once per task
 * from the read() of its file, with no trampoline, so it loads where fentry is refused.
 */
/* bpf_helpers.h needs the types of linux/bpf.h first. */
// clang-format off
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
// clang-format on

#include "bpf/kernel_types.h"
#include "bpf/namespace_iterator_record.h"

char LICENSE[] SEC("license") = "GPL";

struct seq_file;

struct bpf_iter_meta {
  struct seq_file* seq;
} __attribute__((preserve_access_index));

struct bpf_iter__task {
  struct bpf_iter_meta* meta;
  struct task_struct* task;
} __attribute__((preserve_access_index));

/* include/linux/sched.h: set by do_exit before exit_task_namespaces frees the task's nsproxy. */
#define PF_EXITING 0x00000004

/* A fresh load of the task's flags each time (volatile: the compiler may not merge two reads). */
static __always_inline int exiting(struct task_struct* task) {
  return *(volatile unsigned int*)&task->flags & PF_EXITING;
}

SEC("iter/task")
int list_ipc_namespaces(struct bpf_iter__task* ctx) {
  struct task_struct* task = ctx->task;
  /* The last call has no task; threads other than the leader are not processes (/proc lists
   * only leaders). */
  if (task == 0 || task->pid != task->tgid) return 0;
  /* An exiting task drops its nsproxy (NULL once dropped; freed without waiting for RCU, so a
   * read racing with its exit could see freed memory): skipped, as /proc's readlink fails for it.
   * Checked again after the read: on x86-64, where loads are not reordered with loads, a task
   * still not exiting then had not begun to free its nsproxy while it was read. */
  if (exiting(task)) return 0;
  struct nsproxy* namespaces = task->nsproxy;
  if (namespaces == 0) return 0;
  struct process_ipc_namespace record = {
      .tgid = (__u32)task->tgid,
      .inode = namespaces->ipc_ns->ns.inum,
  };
  if (exiting(task)) return 0;
  bpf_seq_write(ctx->meta->seq, &record, sizeof record);
  return 0;
}
