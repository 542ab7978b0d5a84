#include "model/sample.h"

namespace ipctrail {

std::vector<NamedLimit> named_limits(const Limits& limits) {
  return {
      {"semmsl", limits.semmsl}, {"semmns", limits.semmns}, {"semopm", limits.semopm},
      {"semmni", limits.semmni}, {"msgmni", limits.msgmni}, {"msgmnb", limits.msgmnb},
      {"msgmax", limits.msgmax}, {"shmmni", limits.shmmni}, {"shmall", limits.shmall},
      {"shmmax", limits.shmmax},
  };
}

}  // namespace ipctrail
