// Netdata's `delay` for notifications (docs/design.md §3): a notification of a rise in status
// (CLEAR to WARNING, WARNING to CRITICAL) waits `up`, one of a fall (a recovery, or an instance
// going UNDEFINED or REMOVED) waits `down`; when the instance changes status again while its
// last notification is still held, both delays are multiplied by `multiplier`, up to `max`.
// A held notification that a newer transition of the same instance overtakes is not sent, and
// neither is one that would tell the program the status it was last told. Only what notify.exec
// receives is delayed: statuses, the alert log and the history are not.
//
// Pure logic on an injected clock: the agent passes each tick's scheduled time.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "model/alert_status.h"
#include "model/settings.h"

namespace ipctrail {

class NotificationDelay {
 public:
  using Clock = std::chrono::steady_clock;

  explicit NotificationDelay(const AlertConfigs& alerts) : alerts_(alerts) {}

  // New delays (a config reload), for transitions from now on; held notifications keep their time.
  void reconfigure(const AlertConfigs& alerts) { alerts_ = alerts; }

  // Takes the transitions of one evaluation, which happened at `now`, in the engine's order.
  void add(const std::vector<AlertTransition>& transitions, Clock::time_point now);

  // The notifications due at `now`, in the order their transitions happened.
  std::vector<AlertTransition> take_due(Clock::time_point now);

  // Notifications held for later.
  std::size_t held() const;

 private:
  struct Instance {
    Duration up{0};
    Duration down{0};
    // Netdata's delay_up_to_timestamp: when the held notification is due, and a change before
    // it multiplies the delays.
    std::optional<Clock::time_point> delayed_until;
    std::optional<AlertTransition> held;
    std::uint64_t order = 0;  // of the held transition, among all added
    std::optional<AlertStatus> last_sent;
  };

  AlertConfigs alerts_;
  // By alert, instance and IPC namespace inode (0: the agent's own).
  std::map<std::tuple<std::string, std::string, std::uint64_t>, Instance> instances_;
  std::uint64_t added_ = 0;
};

}  // namespace ipctrail
