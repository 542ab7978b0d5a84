#include "model/ipc_objects.h"

namespace ipctrail {

std::string_view kind_name(IpcKind kind) {
  switch (kind) {
    case IpcKind::kSemaphore:
      return "sem";
    case IpcKind::kQueue:
      return "msg";
    case IpcKind::kSharedMemory:
      return "shm";
  }
  return "?";
}

std::optional<IpcKind> kind_from_name(std::string_view name) {
  for (IpcKind kind : kIpcKinds) {
    if (kind_name(kind) == name) return kind;
  }
  return std::nullopt;
}

std::optional<std::vector<IpcObject>>& IpcInventory::of(IpcKind kind) {
  switch (kind) {
    case IpcKind::kSemaphore:
      return semaphores;
    case IpcKind::kQueue:
      return queues;
    case IpcKind::kSharedMemory:
      break;
  }
  return segments;
}

const std::optional<std::vector<IpcObject>>& IpcInventory::of(IpcKind kind) const {
  return const_cast<IpcInventory*>(this)->of(kind);
}

}  // namespace ipctrail
