// The creators of semaphore arrays for the leak rules (README "Leak suspects"): the kernel keeps
// no creator pid for an array, so the daemon remembers, from BPF's lifecycle events, which process
// made each array it saw being made. Bounded by the arrays that exist, plus a margin.
#pragma once

#include "agent/collect/leak_finder.h"
#include "model/sample.h"

namespace ipctrail {

class ArrayCreatorTracker {
 public:
  // Learns from `sample`'s lifecycle events (a semget with IPC_CREAT names the creator of the
  // array at its id; an IPC_RMID forgets it) and forgets arrays its inventory no longer lists.
  void learn(const Sample& sample);

  const ArrayCreators& creators() const { return creators_; }

 private:
  // Beyond the arrays the inventory lists, this many entries wait before a pass forgets the gone.
  static constexpr std::size_t kSlack = 1024;

  ArrayCreators creators_;
};

}  // namespace ipctrail
