// The agent's C heap over a long life (README "Memory"): glibc's defaults suit short programs, not
// a daemon whose resident size is a requirement (issue 13: under 16 MiB with 10,000 processes
// seen). Two things go wrong with them here. glibc raises its mmap threshold to the largest block
// ever freed (the BPF loader parses megabytes of kernel BTF once, at start), after which every
// large buffer of a tick comes from the brk heap and the top of the heap is kept (the trim
// threshold follows at twice as much); and free() gives back only the top of the heap, never the
// whole free pages between longer-lived allocations that a tick's SQLite page cache leaves behind.
#pragma once

namespace ipctrail {

// Fixes the mmap and trim thresholds at glibc's own defaults (128 KiB), which stops glibc moving
// them: buffers above the threshold are mapped and unmapped on their own. Call once, at start.
void configure_agent_heap();

// Gives every whole free page of the heap back to the OS (malloc_trim). Call at the end of each
// tick, once the tick's transient memory is freed.
void return_free_heap_pages();

}  // namespace ipctrail
