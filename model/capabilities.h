// Whether the calling thread may do what it is about to try: its effective capabilities, read
// with capget (no libcap for a few bits). The one copy for bpf/ (loading programs) and
// agent/namespaces/ (entering namespaces, reading others' namespace links), which may not use
// each other.
#pragma once

namespace ipctrail {

// Whether the calling thread holds `capability` (CAP_*) in its effective set; false when capget
// fails. Capabilities belong to a thread: a thread that dropped one lacks it while the others of
// its process may hold it.
bool has_effective_capability(int capability);

}  // namespace ipctrail
