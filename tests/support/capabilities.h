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

}  // namespace ipctrail::testing
