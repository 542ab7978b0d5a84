#include "agent/daemon/process_record.h"

namespace ipctrail {

namespace {

std::uint64_t increase(std::uint64_t& previous, std::uint64_t now) {
  std::uint64_t since = now >= previous ? now - previous : now;
  previous = now;
  return since;
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
  auto resolve = [&](std::uint64_t cgroup_id) {
    if (record.cgroup_owners.contains(cgroup_id)) return;
    CgroupName name = cgroups_.resolve(cgroup_id);
    if (name.state == CgroupName::State::kKnown) {
      record.cgroup_owners.emplace(cgroup_id, std::move(name.owner.name));
    } else if (name.state == CgroupName::State::kGone) {
      record.cgroup_owners.emplace(cgroup_id, std::move(name.display));
    }
  };
  for (const ProcessCallCount& count : activity.calls) resolve(count.process.cgroup_id);
  for (const LifecycleEvent& event : activity.events) resolve(event.process.cgroup_id);
  record.calls_not_attributed = increase(calls_not_attributed_, activity.calls_not_attributed);
  record.events_lost = increase(events_lost_, activity.events_lost);
}

}  // namespace ipctrail
