#include "agent/daemon/array_creators.h"

#include <unordered_set>

namespace ipctrail {

void ArrayCreatorTracker::learn(const Sample& sample) {
  if (sample.processes) {
    for (const LifecycleEvent& event : sample.processes->events) {
      if (event.kind != IpcKind::kSemaphore) continue;
      if (event.action == LifecycleAction::kRemoved) {
        creators_.erase(event.id);
      } else {
        creators_[event.id] = {.pid = event.process.tgid,
                               .created_s = event.ts_ms / 1000,
                               .surely_created = surely_created(event)};
      }
    }
  }
  // A removal whose event was lost leaves its entry behind until the arrays are counted: an entry
  // is gone when the inventory, read before the events, does not list it and its call came before
  // that reading (a later one's array shows up in the next inventory).
  const auto& arrays = sample.objects.semaphores;
  if (!arrays || creators_.size() <= arrays->size() + kSlack) return;
  std::unordered_set<int> listed;
  listed.reserve(arrays->size());
  for (const IpcObject& array : *arrays) listed.insert(array.id);
  std::erase_if(creators_, [&](const auto& entry) {
    return !listed.contains(entry.first) && entry.second.created_s * 1000 < sample.ts_ms - 1000;
  });
}

}  // namespace ipctrail
