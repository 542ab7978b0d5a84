#include "agent/daemon/heap_memory.h"

#include <malloc.h>

namespace ipctrail {

namespace {

constexpr int kThresholdBytes = 128 * 1024;

}  // namespace

void configure_agent_heap() {
  ::mallopt(M_MMAP_THRESHOLD, kThresholdBytes);
  ::mallopt(M_TRIM_THRESHOLD, kThresholdBytes);
}

void return_free_heap_pages() {
  ::malloc_trim(0);
}

}  // namespace ipctrail
