#include "agent/daemon/process_record.h"

namespace ipctrail {

namespace {

std::uint64_t increase(std::uint64_t& previous, std::uint64_t now) {
  std::uint64_t since = now >= previous ? now - previous : now;
  previous = now;
  return since;
}

// The owner's name, "cgroup <id> (gone)", or none while not known.
std::optional<std::string> owner_name(CgroupName name) {
  if (name.state == CgroupName::State::kKnown) return std::move(name.owner.name);
  if (name.state == CgroupName::State::kGone) return std::move(name.display);
  return std::nullopt;
}

}  // namespace

void ProcessRecorder::fill(const Sample& sample, TickRecord& tick) {
  if (!sample.processes) {
    tick.processes.reset();
    return;
  }
  const ProcessActivity& activity = *sample.processes;
  ProcessTickRecord& record = tick.processes.emplace();
  record.calls = activity.calls;
  record.events = activity.events;
  for (auto it = unnamed_.begin(); it != unnamed_.end();) {
    if (std::optional<std::string> owner = owner_name(cgroups_.resolve(*it))) {
      record.late_cgroup_owners.emplace(*it, std::move(*owner));
      it = unnamed_.erase(it);
    } else {
      ++it;
    }
  }
  auto resolve = [&](std::uint64_t cgroup_id) {
    if (record.cgroup_owners.contains(cgroup_id)) return;
    if (std::optional<std::string> owner = owner_name(cgroups_.resolve(cgroup_id))) {
      record.cgroup_owners.emplace(cgroup_id, std::move(*owner));
    } else if (unnamed_.size() < kMaxUnnamed) {
      unnamed_.insert(cgroup_id);
    }
  };
  for (const ProcessCallCount& count : activity.calls) resolve(count.process.cgroup_id);
  for (const LifecycleEvent& event : activity.events) resolve(event.process.cgroup_id);
  record.calls_not_attributed = increase(calls_not_attributed_, activity.calls_not_attributed);
  record.events_lost = increase(events_lost_, activity.events_lost);
}

}  // namespace ipctrail
