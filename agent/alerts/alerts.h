// The alert engine: pure logic from Samples to alert statuses and their transitions. It knows
// nothing of storage or notification; the agent stores and announces what evaluate() returns.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/alerts/alert_rules.h"
#include "agent/alerts/failure_window.h"
#include "agent/alerts/growth_window.h"
#include "model/alert_status.h"
#include "model/sample.h"
#include "model/settings.h"

namespace ipctrail {

// The leak alert (README "Leak suspects"); its value is the number of suspects, not a percent.
inline constexpr std::string_view kLeakAlertName = "ipc_objects_leaked";
inline constexpr std::string_view kLeakAlertChart = "ipc_objects";

class AlertEngine {
 public:
  using Clock = std::chrono::steady_clock;

  explicit AlertEngine(const AlertConfigs& alerts);

  // Evaluates every enabled alert that is due at `now` (each one every `every`, on a fixed
  // schedule from its first evaluation: pass the tick's scheduled time, not a late reading),
  // on `sample`, the latest one. Returns the transitions, in kAlertNames order, then instance.
  // Call it on every tick: ipc_call_failures and the forecasts take every sample into their
  // windows, due or not, and measure their windows on `now`.
  //
  // Per-queue instances (message_queue_bytes_used) come and go with their queues; to keep the
  // log proportional to trouble rather than to queue churn, an instance's transitions are
  // returned from the first time it is raised (WARNING or CRITICAL) on, up to its REMOVED.
  // states() always shows every instance.
  std::vector<AlertTransition> evaluate(const Sample& sample, Clock::time_point now);

  // New thresholds and schedules (a config reload), taking effect at the next evaluate(): an
  // alert switched off goes REMOVED there, one switched on starts UNINITIALIZED and is due.
  void reconfigure(const AlertConfigs& alerts);

  // Every instance of every enabled alert, in kAlertNames order, then instance; then
  // ipc_objects_leaked's.
  std::vector<AlertState> states() const;

 private:
  // Why an instance has its status; summaries of the usage alerts are written from it only when
  // someone reads them, which keeps an evaluation of 32,000 calm queues free of text formatting.
  // The few instances of the other kinds carry their summary as text (kText).
  enum class Cause { kNone, kUsage, kQueueGone, kQueuesUnknown, kSwitchedOff, kFailureGone, kText };
  struct Instance {
    AlertStatus status = AlertStatus::kUninitialized;
    std::optional<double> value;
    std::int64_t since_ms = 0;
    Cause cause = Cause::kNone;
    std::optional<std::uint64_t> used, limit;
    std::string text;     // the summary, for Cause::kText
    bool logged = false;  // per-queue: raised at least once, so its transitions are returned
    std::uint64_t seen_in = 0;
  };
  // ipc_call_failures: one instance per configured failure, and the status it raises.
  struct FailureTracker {
    CallFailure failure;
    AlertStatus raises = AlertStatus::kCritical;
    FailureWindow window;
  };
  struct Alert {
    std::string_view name;
    std::string_view chart;
    AlertKind kind = AlertKind::kUsage;
    // The usage rule: the alert's own, or for a forecast the one that measures its resource.
    const AlertRule* rule = nullptr;
    AlertConfig config;
    bool active = false;  // enabled, and its instances exist
    std::optional<Clock::time_point> next_due;
    std::unordered_map<std::string, Instance> instances;
    std::map<std::string, FailureTracker, std::less<>> failures;  // ipc_call_failures
    bool tracking_configured = false;  // `failures` follow the configuration
    GrowthWindow growth{Duration(0)};  // a forecast
  };

  void start(Alert& alert);
  void track_failures(Alert& alert, std::int64_t ts_ms, std::vector<AlertTransition>& out);
  void record(Alert& alert, const Sample& sample, Clock::time_point now);
  void evaluate_alert(Alert& alert, const Sample& sample, std::vector<AlertTransition>& out);
  void evaluate_failures(Alert& alert, const Sample& sample, Clock::time_point now,
                         std::vector<AlertTransition>& out);
  void evaluate_forecast(Alert& alert, const Sample& sample, std::vector<AlertTransition>& out);
  void remove_all(Alert& alert, std::int64_t ts_ms, std::vector<AlertTransition>& out);
  static void change(Alert& alert, const std::string& name, Instance& instance, AlertStatus status,
                     std::optional<double> value, Cause cause, std::int64_t ts_ms,
                     std::vector<AlertTransition>& out);
  static void change_text(Alert& alert, const std::string& name, Instance& instance,
                          AlertStatus status, std::optional<double> value, std::string text,
                          std::int64_t ts_ms, std::vector<AlertTransition>& out);
  static std::string summary(const Alert& alert, const std::string& name, const Instance& instance);

  // ipc_objects_leaked, one instance per kind: WARNING while any object of that kind is a leak
  // suspect (Sample::leak_suspects), CLEAR otherwise. Evaluated on every sample; one without
  // suspects at all (leak rules off) removes the instances.
  struct LeakAlert {
    AlertStatus status = AlertStatus::kUninitialized;
    std::size_t suspects = 0;
    std::int64_t since_ms = 0;
    std::string summary;
  };
  void evaluate_leaks(const Sample& sample, std::vector<AlertTransition>& out);

  std::vector<Alert> alerts_;
  std::array<LeakAlert, std::size(kIpcKinds)> leaks_;
  std::vector<Usage> usages_;  // reused between evaluations
  std::uint64_t evaluations_ = 0;
};

// The status the rules give `value` (percent) for an alert now in `current`: Netdata's
// hysteresis, `warn: $this > (($status >= $WARNING) ? warn_clear : warn)` and
// `crit: $this > (($status == $CRITICAL) ? crit_clear : crit)`.
AlertStatus status_for(double value, AlertStatus current, const AlertConfig& config);

// How much further than its threshold a limit must move before a raised forecast falls back: the
// same hysteresis as the usage alerts' 80/70, so a time to the limit hovering about a threshold
// does not flap.
inline constexpr double kForecastHold = 1.25;

// The status of an exhaustion forecast whose limit is `seconds` away, for an alert now in
// `current`: CRITICAL under crit_within, WARNING under warn_within, else CLEAR; once raised, a
// level holds while under kForecastHold times its threshold (docs/design.md §10).
AlertStatus forecast_status(double seconds, AlertStatus current, const AlertConfig& config);

// "~7 min", "~45 s", "~2.5 h", "~3 d": a time to the limit for people.
std::string approximate_duration(double seconds);

}  // namespace ipctrail
