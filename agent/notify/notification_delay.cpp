#include "agent/notify/notification_delay.h"

#include <algorithm>

namespace ipctrail {

namespace {

Duration multiplied(Duration delay, double multiplier, Duration max) {
  auto scaled =
      Duration(static_cast<Duration::rep>(static_cast<double>(delay.count()) * multiplier));
  return std::min(scaled, max);
}

}  // namespace

void NotificationDelay::add(const std::vector<AlertTransition>& transitions,
                            Clock::time_point now) {
  for (const AlertTransition& transition : transitions) {
    auto configured = alerts_.find(transition.alert);
    NotifyDelay delay = configured == alerts_.end() ? NotifyDelay{} : configured->second.delay;
    Instance& instance = instances_[{std::string(transition.alert), transition.instance,
                                     transition.namespace_inode}];
    if (!instance.delayed_until || now > *instance.delayed_until) {
      instance.up = delay.up;
      instance.down = delay.down;
    } else {
      instance.up = multiplied(instance.up, delay.multiplier, delay.max);
      instance.down = multiplied(instance.down, delay.multiplier, delay.max);
    }
    bool rise = static_cast<int>(transition.new_status) > static_cast<int>(transition.old_status);
    Duration wait = rise ? instance.up : instance.down;
    instance.delayed_until = now + wait;
    instance.held = transition;
    instance.order = added_++;
  }
}

std::vector<AlertTransition> NotificationDelay::take_due(Clock::time_point now) {
  std::vector<Instance*> due;
  for (auto& [key, instance] : instances_) {
    if (instance.held && *instance.delayed_until <= now) due.push_back(&instance);
  }
  std::sort(due.begin(), due.end(),
            [](const Instance* a, const Instance* b) { return a->order < b->order; });
  std::vector<AlertTransition> out;
  for (Instance* instance : due) {
    AlertTransition transition = std::move(*instance->held);
    instance->held.reset();
    if (instance->last_sent == transition.new_status) continue;
    instance->last_sent = transition.new_status;
    out.push_back(std::move(transition));
  }
  // A removed instance (its queue is gone) is forgotten once nothing of it is held or pending.
  std::erase_if(instances_, [now](const auto& entry) {
    const Instance& instance = entry.second;
    return !instance.held && instance.last_sent == AlertStatus::kRemoved &&
           instance.delayed_until && now > *instance.delayed_until;
  });
  return out;
}

std::size_t NotificationDelay::held() const {
  return static_cast<std::size_t>(std::count_if(
      instances_.begin(), instances_.end(), [](const auto& entry) { return entry.second.held; }));
}

}  // namespace ipctrail
