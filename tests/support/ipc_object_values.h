// Test support: IPC objects as the collector reports them, for tests that write an inventory
// without a kernel; each names the fields its test is about, the rest are the collector's defaults.
#pragma once

#include <cstdint>

#include "model/ipc_objects.h"

namespace ipctrail::testing {

// A semaphore array made at `ctime` (unix seconds), mode 0600, owned by root.
inline IpcObject semaphore_array(int id, std::int64_t ctime, std::int32_t key = 0,
                                 std::uint64_t nsems = 1) {
  IpcObject object;
  object.kind = IpcKind::kSemaphore;
  object.id = id;
  object.key = key;
  object.mode = 0600;
  object.size = nsems;
  object.ctime = ctime;
  return object;
}

}  // namespace ipctrail::testing
