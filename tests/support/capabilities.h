// Test support: take away this process's privileges, for the paths a user without them takes.
#pragma once

#include <initializer_list>

namespace ipctrail::testing {

// Drops `capabilities` (CAP_*) from this (single-threaded) process's effective, permitted and
// bounding sets: for good, and for what it executes.
void drop_capabilities(std::initializer_list<int> capabilities);

// Drops CAP_SYS_ADMIN, CAP_PERFMON and CAP_BPF from this (single-threaded) process and from what
// it executes: loading BPF then fails as it does for an unprivileged agent.
void drop_bpf_capabilities();

// Sets or clears `capability` in the calling thread's effective set only (capset acts on the
// calling thread): the threads it starts afterwards inherit the change, the others keep theirs.
// It stays permitted, so that it can be raised again.
void set_thread_effective_capability(int capability, bool raised);

}  // namespace ipctrail::testing
