#include "agent/collect/leak_finder.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "agent/collect/process_stat.h"

namespace ipctrail {

namespace {

std::string key_text(std::int32_t key) {
  return fmt::format("0x{:08x}", static_cast<std::uint32_t>(key));
}

}  // namespace

LeakFinder::LeakFinder(std::filesystem::path procfs_root)
    : root_(std::move(procfs_root)), ticks_per_second_(::sysconf(_SC_CLK_TCK)) {}

bool LeakFinder::alive_since(std::int64_t pid, std::int64_t at) {
  // 0: the process is outside our pid namespace (procfs shows it as 0); we cannot tell.
  if (pid <= 0) return true;
  auto [entry, added] = processes_.try_emplace(pid);
  if (added) entry->second = look_up(pid);
  const Process& process = entry->second;
  return process.alive && (!process.started || *process.started <= at);
}

LeakFinder::Process LeakFinder::look_up(std::int64_t pid) {
  if (!boot_time_) {
    ProcFile::Result stat = file_.read((root_ / "stat").string());
    std::size_t found = stat.error == 0 ? stat.text.find("\nbtime ") : std::string_view::npos;
    if (found == std::string_view::npos) return {};  // cannot tell: never call it gone
    std::int64_t btime = 0;
    std::string_view rest = stat.text.substr(found + 7);
    std::from_chars(rest.data(), rest.data() + rest.size(), btime);
    boot_time_ = btime;
  }
  ProcFile::Result stat = file_.read((root_ / std::to_string(pid) / "stat").string());
  if (stat.error != 0) {
    // Hidden from us (hidepid, ProtectProc=invisible) is not gone: signal 0 tells them apart,
    // though not a reused pid from the creator.
    return {.alive = ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM, .started = {}};
  }
  std::optional<std::uint64_t> start_ticks = parse_process_start_ticks(stat.text);
  if (!start_ticks) return {};
  return {.alive = true,
          .started = *boot_time_ + static_cast<std::int64_t>(*start_ticks) / ticks_per_second_};
}

const ArrayCreator* LeakFinder::creator_of(const IpcObject& array, const ArrayCreators& creators) {
  auto found = creators.find(array.id);
  if (found == creators.end()) return nullptr;
  const ArrayCreator& creator = found->second;
  // ctime moves forward only (SETVAL, SETALL, IPC_SET): an array older than the call is not its.
  if (array.ctime < creator.created_s - 1) return nullptr;
  if (!creator.surely_created && array.ctime > creator.created_s + 1) return nullptr;
  return &creator;
}

void LeakFinder::find(const IpcInventory& inventory, std::int64_t now_ms,
                      const Config::Leaks& rules, std::vector<LeakSuspect>& out,
                      const ArrayCreators& array_creators) {
  out.clear();
  processes_.clear();  // processes come and go between collections
  const std::int64_t min_age_ms = rules.min_age.count();
  // The kernel's times count whole seconds: the moment was up to a second after the number says,
  // so an object has surely been idle only since the end of that second (and never less than 0).
  // Counted from its start, an object made late in a second was judged up to a second early,
  // before the tick that names its creator.
  auto idle_since = [&](std::int64_t seconds) {
    return std::max<std::int64_t>(0, now_ms - (seconds + 1) * 1000) >= min_age_ms;
  };
  auto ignored = [&](std::int32_t key) {
    return std::find(rules.ignore_keys.begin(), rules.ignore_keys.end(), key) !=
           rules.ignore_keys.end();
  };
  auto suspect = [&](const IpcObject& object, std::string reason) {
    out.push_back({object.kind, object.id, object.key, std::move(reason)});
  };
  if (inventory.segments) {
    for (const IpcObject& shm : *inventory.segments) {
      if (shm.nattch != 0 || ignored(shm.key)) continue;
      std::int64_t touched = std::max({shm.ctime, shm.atime, shm.dtime});
      if (!idle_since(touched) || alive_since(shm.cpid, shm.ctime)) continue;
      suspect(shm, fmt::format("segment {} ({} bytes): nothing attached, creator pid {} gone, "
                               "untouched since {}s",
                               key_text(shm.key), shm.size, shm.cpid, now_ms / 1000 - touched));
    }
  }
  if (inventory.semaphores) {
    for (const IpcObject& sem : *inventory.semaphores) {
      if (ignored(sem.key)) continue;
      std::int64_t used = std::max(sem.ctime, sem.otime);
      if (!idle_since(used)) continue;
      const ArrayCreator* creator = creator_of(sem, array_creators);
      if (creator == nullptr) {
        suspect(sem, fmt::format("array {} ({} semaphores): no semop for {}s", key_text(sem.key),
                                 sem.size, now_ms / 1000 - used));
      } else if (!alive_since(creator->pid, creator->created_s)) {
        suspect(sem, fmt::format("array {} ({} semaphores): no semop for {}s, creator pid {} gone",
                                 key_text(sem.key), sem.size, now_ms / 1000 - used, creator->pid));
      }
    }
  }
  if (inventory.queues) {
    for (const IpcObject& msg : *inventory.queues) {
      if (msg.qnum == 0 || ignored(msg.key)) continue;
      std::int64_t received = std::max(msg.ctime, msg.rtime);
      if (!idle_since(received)) continue;
      if (msg.stime > received) {
        suspect(msg, fmt::format("queue {}: {} messages waiting, sends go on, no receive for {}s",
                                 key_text(msg.key), msg.qnum, now_ms / 1000 - received));
      } else if (msg.lrpid != 0 && !alive_since(msg.lrpid, msg.rtime)) {
        suspect(msg, fmt::format("queue {}: {} messages waiting, last receiver pid {} gone",
                                 key_text(msg.key), msg.qnum, msg.lrpid));
      }
    }
  }
}

}  // namespace ipctrail
