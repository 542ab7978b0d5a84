/* The few kernel types the BPF program reads, as CO-RE relocatable records: libbpf fixes the
 * field offsets against the running kernel's BTF at load time, so no generated vmlinux.h is needed.
 */
#ifndef IPCTRAIL_BPF_KERNEL_TYPES_H
#define IPCTRAIL_BPF_KERNEL_TYPES_H

struct ns_common {
  unsigned int inum;
} __attribute__((preserve_access_index));

struct ipc_namespace {
  struct ns_common ns;
} __attribute__((preserve_access_index));

struct nsproxy {
  struct ipc_namespace* ipc_ns;
} __attribute__((preserve_access_index));

/* A cgroup's id (what bpf_get_current_cgroup_id returns) is its kernfs node's id, the inode of its
 * cgroup v2 directory: task->cgroups->dfl_cgrp->kn->id. */
struct kernfs_node {
  unsigned long long id;
} __attribute__((preserve_access_index));

struct cgroup {
  struct kernfs_node* kn;
} __attribute__((preserve_access_index));

struct css_set {
  struct cgroup* dfl_cgrp;
} __attribute__((preserve_access_index));

struct task_struct {
  unsigned int flags;
  int pid;
  int tgid;
  struct nsproxy* nsproxy;
  struct css_set* cgroups;
  char comm[16];
} __attribute__((preserve_access_index));

/* x86-64 registers: those an x86-64 syscall function (__x64_sys_<name>) receives its arguments
 * in, and the return value a kretprobe reads; on other architectures the fields do not exist and
 * the program checks bpf_core_field_exists first (the loader offers kprobes on x86-64 only). */
struct pt_regs {
  unsigned long di;
  unsigned long si;
  unsigned long dx;
  unsigned long ax;
} __attribute__((preserve_access_index));

/* The context of syscalls/sys_enter_<name>: a stable layout (see its tracefs format file). */
struct syscall_enter_context {
  unsigned long long common_fields;
  long syscall_nr;
  unsigned long args[6];
};

/* The context of syscalls/sys_exit_<name>: a stable layout (see its tracefs format file). */
struct syscall_exit_context {
  unsigned long long common_fields;
  long syscall_nr;
  long ret;
};

#endif
