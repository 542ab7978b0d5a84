// The /proc/sysvipc tables and the limit files: the kernel writes them, but a row can vanish or be
// cut mid-read, and a fixture or a future kernel can hold anything. Every parser takes every input.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/collect/sysvipc_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<ipctrail::MessageQueue> queues;
  ipctrail::parse_msg_table(text, queues);
  ipctrail::SharedMemoryTotals shared_memory;
  for (std::uint64_t page_size : {std::uint64_t{1}, std::uint64_t{4096}, UINT64_MAX}) {
    ipctrail::parse_shm_table(text, page_size, shared_memory);
  }
  ipctrail::SemaphoreTotals semaphores;
  ipctrail::parse_sem_table(text, semaphores);
  std::vector<ipctrail::IpcObject> objects;
  for (ipctrail::IpcKind kind : ipctrail::kIpcKinds) {
    ipctrail::parse_object_table(kind, text, objects);
  }
  ipctrail::parse_sem_limits(text);
  ipctrail::parse_single_number(text);
  return 0;
}
