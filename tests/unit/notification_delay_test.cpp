// Netdata's `delay` for notify.exec, on an injected clock: recoveries held for `down`, the
// multiplier when an alert changes again while held, `max`, superseded and repeated
// notifications dropped, and no delay at all when both delays are zero.
#include "agent/notify/notification_delay.h"

#include <gtest/gtest.h>

namespace ipctrail {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using Clock = NotificationDelay::Clock;

const Clock::time_point kT0 = Clock::time_point{} + std::chrono::hours(1);

AlertTransition transition(AlertStatus from, AlertStatus to, std::string instance = "",
                           std::string_view alert = "semaphore_arrays_used") {
  AlertTransition t;
  t.alert = alert;
  t.instance = std::move(instance);
  t.old_status = from;
  t.new_status = to;
  return t;
}

std::string statuses(const std::vector<AlertTransition>& transitions) {
  std::string text;
  for (const AlertTransition& t : transitions) {
    if (!text.empty()) text += ",";
    if (!t.instance.empty()) text += t.instance + ":";
    text += status_name(t.new_status);
  }
  return text;
}

constexpr AlertStatus kClear = AlertStatus::kClear;
constexpr AlertStatus kWarning = AlertStatus::kWarning;
constexpr AlertStatus kCritical = AlertStatus::kCritical;

TEST(NotificationDelay, TheDefaultsAreNetdatas) {
  NotifyDelay delay = AlertConfig{}.delay;
  EXPECT_EQ(delay.up, milliseconds(0));
  EXPECT_EQ(delay.down, minutes(5));
  EXPECT_EQ(delay.multiplier, 1.5);
  EXPECT_EQ(delay.max, minutes(60));
}

TEST(NotificationDelay, ARiseGoesAtOnceARecoveryWaitsDown) {
  NotificationDelay delay(Config::default_alerts());
  delay.add({transition(AlertStatus::kUninitialized, kClear)}, kT0);
  EXPECT_EQ(statuses(delay.take_due(kT0)), "CLEAR");
  delay.add({transition(kClear, kWarning)}, kT0 + seconds(10));
  EXPECT_EQ(statuses(delay.take_due(kT0 + seconds(10))), "WARNING");

  Clock::time_point recovered = kT0 + minutes(10);
  delay.add({transition(kWarning, kClear)}, recovered);
  EXPECT_EQ(statuses(delay.take_due(recovered)), "");
  EXPECT_EQ(delay.held(), 1u);
  EXPECT_EQ(statuses(delay.take_due(recovered + minutes(5) - milliseconds(1))), "");
  EXPECT_EQ(statuses(delay.take_due(recovered + minutes(5))), "CLEAR");
  EXPECT_EQ(delay.held(), 0u);
  EXPECT_EQ(statuses(delay.take_due(recovered + minutes(20))), "");
}

TEST(NotificationDelay, AFlapWithinTheDelayMakesNoNotification) {
  NotificationDelay delay(Config::default_alerts());
  delay.add({transition(kClear, kWarning)}, kT0);
  EXPECT_EQ(statuses(delay.take_due(kT0)), "WARNING");
  delay.add({transition(kWarning, kClear)}, kT0 + seconds(10));  // held until +5m10s
  // Back to WARNING within the delay: the CLEAR is overtaken, and WARNING is what the program
  // was last told.
  delay.add({transition(kClear, kWarning)}, kT0 + seconds(20));
  EXPECT_EQ(statuses(delay.take_due(kT0 + seconds(20))), "");
  EXPECT_EQ(statuses(delay.take_due(kT0 + minutes(30))), "");
  EXPECT_EQ(delay.held(), 0u);
}

TEST(NotificationDelay, AChangeWhileHeldMultipliesTheDelay) {
  NotificationDelay delay(Config::default_alerts());
  delay.add({transition(kWarning, kCritical)}, kT0);
  EXPECT_EQ(statuses(delay.take_due(kT0)), "CRITICAL");
  delay.add({transition(kCritical, kWarning)}, kT0 + seconds(10));  // down 5m: until +5m10s
  Clock::time_point cleared = kT0 + minutes(2);
  delay.add({transition(kWarning, kClear)}, cleared);  // within it: down 5m x 1.5 = 7m30s
  EXPECT_EQ(statuses(delay.take_due(cleared + minutes(7))), "");
  EXPECT_EQ(statuses(delay.take_due(cleared + seconds(450) - milliseconds(1))), "");
  EXPECT_EQ(statuses(delay.take_due(cleared + seconds(450))), "CLEAR");  // the WARNING never went

  // Past the delay, the next change starts again from `down`.
  Clock::time_point later = cleared + minutes(30);
  delay.add({transition(kClear, kWarning)}, later);
  EXPECT_EQ(statuses(delay.take_due(later)), "WARNING");
  delay.add({transition(kWarning, kClear)}, later + minutes(1));
  EXPECT_EQ(statuses(delay.take_due(later + minutes(6) - milliseconds(1))), "");
  EXPECT_EQ(statuses(delay.take_due(later + minutes(6))), "CLEAR");
}

TEST(NotificationDelay, TheMultipliedDelayStopsAtMax) {
  AlertConfigs alerts = Config::default_alerts();
  NotifyDelay& configured = alerts.at("semaphore_arrays_used").delay;
  configured.multiplier = 10;
  NotificationDelay delay(alerts);
  delay.add({transition(kWarning, kCritical)}, kT0);
  delay.take_due(kT0);
  delay.add({transition(kCritical, kWarning)}, kT0 + minutes(1));              // 5m
  delay.add({transition(kWarning, kClear)}, kT0 + minutes(2));                 // 50m
  delay.add({transition(kClear, AlertStatus::kUndefined)}, kT0 + minutes(3));  // 500m: 1h
  EXPECT_EQ(statuses(delay.take_due(kT0 + minutes(63) - milliseconds(1))), "");
  EXPECT_EQ(statuses(delay.take_due(kT0 + minutes(63))), "UNDEFINED");
}

TEST(NotificationDelay, InstancesAreDelayedApartAndReleasedInOrder) {
  NotificationDelay delay(Config::default_alerts());
  const std::string_view queue_alert = "message_queue_bytes_used";
  delay.add({transition(kClear, kWarning, "7", queue_alert),
             transition(kClear, kWarning, "9", queue_alert)},
            kT0);
  EXPECT_EQ(statuses(delay.take_due(kT0)), "7:WARNING,9:WARNING");
  delay.add({transition(kWarning, kClear, "9", queue_alert)}, kT0 + seconds(10));
  delay.add({transition(kWarning, AlertStatus::kRemoved, "7", queue_alert)}, kT0 + seconds(20));
  EXPECT_EQ(statuses(delay.take_due(kT0 + minutes(10))), "9:CLEAR,7:REMOVED");
  EXPECT_EQ(delay.held(), 0u);
}

TEST(NotificationDelay, ZeroDelaysPassEveryTransitionAtOnce) {
  AlertConfigs alerts = Config::default_alerts();
  alerts.at("semaphore_arrays_used").delay =
      NotifyDelay{.up = {}, .down = {}, .multiplier = 1.5, .max = std::chrono::hours(1)};
  NotificationDelay delay(alerts);
  delay.add({transition(kClear, kWarning)}, kT0);
  EXPECT_EQ(statuses(delay.take_due(kT0)), "WARNING");
  delay.add({transition(kWarning, kClear)}, kT0 + seconds(1));
  EXPECT_EQ(statuses(delay.take_due(kT0 + seconds(1))), "CLEAR");
  delay.add({transition(kClear, kWarning)}, kT0 + seconds(10));
  EXPECT_EQ(statuses(delay.take_due(kT0 + seconds(10))), "WARNING");
  delay.add({transition(kWarning, kClear)}, kT0 + seconds(20));
  EXPECT_EQ(statuses(delay.take_due(kT0 + seconds(20))), "CLEAR");
}

TEST(NotificationDelay, AReloadAppliesToTheNextTransitions) {
  NotificationDelay delay(Config::default_alerts());
  delay.add({transition(kClear, kWarning)}, kT0);
  delay.take_due(kT0);
  AlertConfigs alerts = Config::default_alerts();
  alerts.at("semaphore_arrays_used").delay.down = minutes(1);
  delay.reconfigure(alerts);
  delay.add({transition(kWarning, kClear)}, kT0 + minutes(10));
  EXPECT_EQ(statuses(delay.take_due(kT0 + minutes(11))), "CLEAR");
}

}  // namespace
}  // namespace ipctrail
