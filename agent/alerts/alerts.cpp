#include "agent/alerts/alerts.h"

#include <fmt/format.h>

#include <algorithm>

#include "model/chart_table.h"
#include "model/units.h"

namespace ipctrail {

namespace {

bool is_number(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Decimal msqids sort as numbers when shorter ones come first; names (semget_ENOSPC) as text.
bool instance_less(std::string_view a, std::string_view b) {
  if (a.size() != b.size() && is_number(a) && is_number(b)) return a.size() < b.size();
  return a < b;
}

}  // namespace

AlertStatus status_for(double value, AlertStatus current, const AlertConfig& config) {
  if (config.crit) {
    double crit_threshold =
        current == AlertStatus::kCritical ? config.crit_clear.value_or(*config.crit) : *config.crit;
    if (value > crit_threshold) return AlertStatus::kCritical;
  }
  double warn_threshold = current >= AlertStatus::kWarning ? config.warn_clear : config.warn;
  return value > warn_threshold ? AlertStatus::kWarning : AlertStatus::kClear;
}

AlertStatus forecast_status(double seconds, AlertStatus current, const AlertConfig& config) {
  std::chrono::duration<double> left(seconds);
  auto held = [](Duration threshold) {
    return std::chrono::duration<double>(threshold) * kForecastHold;
  };
  auto crit = current == AlertStatus::kCritical ? held(config.crit_within)
                                                : std::chrono::duration<double>(config.crit_within);
  if (left < crit) return AlertStatus::kCritical;
  auto warn = current >= AlertStatus::kWarning ? held(config.warn_within)
                                               : std::chrono::duration<double>(config.warn_within);
  return left < warn ? AlertStatus::kWarning : AlertStatus::kClear;
}

std::string approximate_duration(double seconds) {
  if (seconds < 90) return fmt::format("~{:.0f} s", seconds);
  if (seconds < 90 * 60) return fmt::format("~{:.0f} min", seconds / 60);
  if (seconds < 36 * 3600) return fmt::format("~{} h", format_number(seconds / 3600));
  return fmt::format("~{:.0f} d", seconds / 86400);
}

AlertEngine::AlertEngine(const AlertConfigs& alerts) {
  for (std::string_view name : kAlertNames) {
    Alert& alert = alerts_.emplace_back();
    alert.name = name;
    alert.kind = alert_kind(name);
    switch (alert.kind) {
      case AlertKind::kUsage:
        for (const AlertRule& rule : alert_rules()) {
          if (rule.name == name) alert.rule = &rule;
        }
        alert.chart = alert.rule->chart;
        break;
      case AlertKind::kCallFailures:
        alert.chart = chart::kCallErrors.id;
        break;
      case AlertKind::kForecast:
        alert.rule = &forecast_resource(name);
        alert.chart = alert.rule->chart;
        break;
    }
  }
  reconfigure(alerts);
}

void AlertEngine::reconfigure(const AlertConfigs& alerts) {
  static const AlertConfigs kDefaults = Config::default_alerts();
  for (Alert& alert : alerts_) {
    auto configured = alerts.find(alert.name);
    const AlertConfig& config =
        configured == alerts.end() ? kDefaults.at(std::string(alert.name)) : configured->second;
    if (alert.next_due) alert.next_due = *alert.next_due - alert.config.every + config.every;
    alert.config = config;
    alert.tracking_configured = false;
    alert.growth.set_window(config.window);
    if (config.enabled && !alert.active) start(alert);
  }
}

void AlertEngine::start(Alert& alert) {
  alert.active = true;
  alert.next_due.reset();
  alert.instances.clear();
  alert.failures.clear();
  alert.growth.clear();
  // A whole-system alert exists, UNINITIALIZED, before its first evaluation; ipc_call_failures'
  // instances are made from its configuration at each evaluation (track_failures).
  if (alert.kind == AlertKind::kForecast ||
      (alert.kind == AlertKind::kUsage && !alert.rule->per_queue)) {
    alert.instances[""].logged = true;
  }
}

std::vector<AlertTransition> AlertEngine::evaluate(const Sample& sample, Clock::time_point now) {
  std::vector<AlertTransition> out;
  for (Alert& alert : alerts_) {
    if (!alert.active) continue;
    if (!alert.config.enabled) {
      remove_all(alert, sample.ts_ms, out);
      continue;
    }
    if (alert.kind == AlertKind::kCallFailures && !alert.tracking_configured) {
      track_failures(alert, sample.ts_ms, out);
    }
    record(alert, sample, now);
    if (alert.next_due && now < *alert.next_due) continue;
    alert.next_due =
        alert.next_due ? *alert.next_due + alert.config.every : now + alert.config.every;
    // After a stall, evaluate once and resume from now instead of catching up.
    if (*alert.next_due <= now) alert.next_due = now + alert.config.every;
    switch (alert.kind) {
      case AlertKind::kUsage:
        evaluate_alert(alert, sample, out);
        break;
      case AlertKind::kCallFailures:
        evaluate_failures(alert, sample, now, out);
        break;
      case AlertKind::kForecast:
        evaluate_forecast(alert, sample, out);
        break;
    }
  }
  evaluate_leaks(sample, out);
  return out;
}

void AlertEngine::track_failures(Alert& alert, std::int64_t ts_ms,
                                 std::vector<AlertTransition>& out) {
  alert.tracking_configured = true;
  // Each configured failure and the status it raises; the config loader refuses one in both lists.
  std::map<std::string, std::pair<CallFailure, AlertStatus>, std::less<>> wanted;
  for (const CallFailure& failure : alert.config.warning_failures) {
    wanted[call_failure_name(failure)] = {failure, AlertStatus::kWarning};
  }
  for (const CallFailure& failure : alert.config.critical_failures) {
    wanted[call_failure_name(failure)] = {failure, AlertStatus::kCritical};
  }
  std::size_t first = out.size();
  for (auto tracked = alert.failures.begin(); tracked != alert.failures.end();) {
    if (wanted.contains(tracked->first)) {
      ++tracked;
      continue;
    }
    Instance& instance = alert.instances[tracked->first];
    change(alert, tracked->first, instance, AlertStatus::kRemoved, std::nullopt,
           Cause::kFailureGone, ts_ms, out);
    alert.instances.erase(tracked->first);
    tracked = alert.failures.erase(tracked);
  }
  std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
            [](const AlertTransition& a, const AlertTransition& b) {
              return instance_less(a.instance, b.instance);
            });
  for (const auto& [name, watched] : wanted) {
    FailureTracker& tracked = alert.failures[name];
    tracked.failure = watched.first;
    tracked.raises = watched.second;
    alert.instances[name].logged = true;
  }
}

void AlertEngine::record(Alert& alert, const Sample& sample, Clock::time_point now) {
  if (alert.kind == AlertKind::kCallFailures) {
    // The counts of this tick only: the totals jump when counting restarts (a reload attaches
    // BPF anew), and since_previous is empty on the first reading after it.
    if (!sample.ipc_calls || !sample.ipc_calls->since_previous) return;
    const IpcCallCounts& counts = sample.ipc_calls->since_previous->counts;
    for (auto& [name, tracked] : alert.failures) {
      tracked.window.add(now, counts.failures_of(tracked.failure.call, tracked.failure.error));
    }
  } else if (alert.kind == AlertKind::kForecast) {
    usages_.clear();
    alert.rule->measure(sample, usages_);
    if (!usages_.empty() && usages_.front().used) {
      alert.growth.add(now, static_cast<double>(*usages_.front().used));
    }
  }
}

void AlertEngine::evaluate_failures(Alert& alert, const Sample& sample, Clock::time_point now,
                                    std::vector<AlertTransition>& out) {
  std::string window = format_duration(alert.config.window);
  for (auto& [name, tracked] : alert.failures) {
    Instance& instance = alert.instances[name];
    std::string_view call = kIpcCallNames[index_of(tracked.failure.call)];
    std::string_view error = kErrnoClassNames[index_of(tracked.failure.error)];
    if (!sample.ipc_calls) {
      change_text(alert, name, instance, AlertStatus::kUndefined, std::nullopt,
                  "IPC system calls are not counted (BPF is off or unavailable)", sample.ts_ms,
                  out);
      continue;
    }
    std::uint64_t failures = tracked.window.within(now, alert.config.window);
    std::string text = failures == 0
                           ? fmt::format("no {} {} failures in the last {}", call, error, window)
                           : fmt::format("{} failed with {} {} time{} in the last {}", call, error,
                                         failures, failures == 1 ? "" : "s", window);
    change_text(alert, name, instance, failures > 0 ? tracked.raises : AlertStatus::kClear,
                static_cast<double>(failures), std::move(text), sample.ts_ms, out);
  }
}

void AlertEngine::evaluate_forecast(Alert& alert, const Sample& sample,
                                    std::vector<AlertTransition>& out) {
  const AlertRule& rule = *alert.rule;
  Instance& instance = alert.instances[""];
  usages_.clear();
  rule.measure(sample, usages_);
  const Usage& usage = usages_.front();
  auto undefined = [&](std::string text) {
    change_text(alert, "", instance, AlertStatus::kUndefined, std::nullopt, std::move(text),
                sample.ts_ms, out);
  };
  if (!usage.used) return undefined(fmt::format("{} not collected", rule.what));
  if (!usage.limit) return undefined(fmt::format("{} is unknown", rule.limit_name));
  if (*usage.limit == 0) return undefined(fmt::format("{} is 0", rule.limit_name));
  auto used = static_cast<double>(*usage.used);
  auto limit = static_cast<double>(*usage.limit);
  if (is_unlimited(*usage.limit)) {
    return change_text(alert, "", instance, AlertStatus::kClear, std::nullopt,
                       fmt::format("{} is unlimited", rule.limit_name), sample.ts_ms, out);
  }
  std::string state =
      fmt::format("{} of {} {} in use ({})", *usage.used, *usage.limit, rule.what, rule.limit_name);
  std::optional<double> slope = alert.growth.slope_per_second();
  if (!slope) {
    return change_text(alert, "", instance, AlertStatus::kClear, std::nullopt,
                       fmt::format("{}; too few samples yet to see a trend", state), sample.ts_ms,
                       out);
  }
  if (*slope <= 0) {
    return change_text(alert, "", instance, AlertStatus::kClear, std::nullopt,
                       fmt::format("{}; not growing", state), sample.ts_ms, out);
  }
  double seconds = std::max(0.0, (limit - used) / *slope);
  std::string rate = fmt::format("{:.3g}/min", *slope * 60);
  std::string text =
      used >= limit ? fmt::format("{} at the limit {} ({}) and still growing at {}", rule.what,
                                  *usage.limit, rule.limit_name, rate)
                    : fmt::format("{} reach the limit {} ({}) in {} at {}", rule.what, *usage.limit,
                                  rule.limit_name, approximate_duration(seconds), rate);
  change_text(alert, "", instance, forecast_status(seconds, instance.status, alert.config), seconds,
              std::move(text), sample.ts_ms, out);
}

void AlertEngine::evaluate_leaks(const Sample& sample, std::vector<AlertTransition>& out) {
  for (IpcKind kind : kIpcKinds) {
    LeakAlert& alert = leaks_[static_cast<std::size_t>(kind)];
    if (!sample.leak_suspects) {
      // The rules are off (leaks.enabled: false): an instance that exists goes away.
      if (alert.status == AlertStatus::kUninitialized || alert.status == AlertStatus::kRemoved) {
        continue;
      }
      alert.summary = "leak rules switched off (leaks.enabled: false)";
      out.push_back(AlertTransition{.ts_ms = sample.ts_ms,
                                    .alert = kLeakAlertName,
                                    .chart = kLeakAlertChart,
                                    .instance = std::string(kind_name(kind)),
                                    .old_status = alert.status,
                                    .new_status = AlertStatus::kRemoved,
                                    .old_value = static_cast<double>(alert.suspects),
                                    .new_value = std::nullopt,
                                    .warn = 0,
                                    .crit = std::nullopt,
                                    .summary = alert.summary,
                                    .namespace_inode = 0,
                                    .namespace_label = {}});
      alert.status = AlertStatus::kRemoved;
      alert.suspects = 0;
      alert.since_ms = sample.ts_ms;
      continue;
    }
    std::size_t suspects = 0;
    const LeakSuspect* first = nullptr;
    for (const LeakSuspect& suspect : *sample.leak_suspects) {
      if (suspect.kind != kind) continue;
      if (first == nullptr) first = &suspect;
      ++suspects;
    }
    AlertStatus status = suspects > 0 ? AlertStatus::kWarning : AlertStatus::kClear;
    if (status == alert.status) {
      alert.suspects = suspects;
      continue;
    }
    std::string summary =
        first == nullptr ? fmt::format("no {} objects suspected of leaking", kind_name(kind))
                         : fmt::format("{} {} object{} suspected of leaking, e.g. {}", suspects,
                                       kind_name(kind), suspects == 1 ? "" : "s", first->reason);
    out.push_back(AlertTransition{
        .ts_ms = sample.ts_ms,
        .alert = kLeakAlertName,
        .chart = kLeakAlertChart,
        .instance = std::string(kind_name(kind)),
        .old_status = alert.status,
        .new_status = status,
        .old_value =
            alert.status == AlertStatus::kUninitialized || alert.status == AlertStatus::kRemoved
                ? std::nullopt
                : std::optional<double>(static_cast<double>(alert.suspects)),
        .new_value = static_cast<double>(suspects),
        .warn = 0,
        .crit = std::nullopt,
        .summary = summary,
        .namespace_inode = 0,
        .namespace_label = {}});
    alert.status = status;
    alert.suspects = suspects;
    alert.since_ms = sample.ts_ms;
    alert.summary = std::move(summary);
  }
}

void AlertEngine::evaluate_alert(Alert& alert, const Sample& sample,
                                 std::vector<AlertTransition>& out) {
  const AlertRule& rule = *alert.rule;
  ++evaluations_;
  usages_.clear();
  bool instances_known = rule.measure(sample, usages_);
  std::size_t first = out.size();
  for (const Usage& usage : usages_) {
    Instance& instance = alert.instances[usage.instance];
    instance.seen_in = evaluations_;
    instance.used = usage.used;
    instance.limit = usage.limit;
    if (usage.used && usage.limit && *usage.limit != 0) {
      double percent = static_cast<double>(*usage.used) * 100.0 / static_cast<double>(*usage.limit);
      change(alert, usage.instance, instance, status_for(percent, instance.status, alert.config),
             percent, Cause::kUsage, sample.ts_ms, out);
    } else {
      change(alert, usage.instance, instance, AlertStatus::kUndefined, std::nullopt, Cause::kUsage,
             sample.ts_ms, out);
    }
  }
  if (rule.per_queue) {
    for (auto& [name, instance] : alert.instances) {
      if (instance.seen_in == evaluations_) continue;
      if (instances_known) {
        change(alert, name, instance, AlertStatus::kRemoved, std::nullopt, Cause::kQueueGone,
               sample.ts_ms, out);
      } else {
        change(alert, name, instance, AlertStatus::kUndefined, std::nullopt, Cause::kQueuesUnknown,
               sample.ts_ms, out);
      }
    }
    std::erase_if(alert.instances,
                  [](const auto& entry) { return entry.second.status == AlertStatus::kRemoved; });
  }
  std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
            [](const AlertTransition& a, const AlertTransition& b) {
              return instance_less(a.instance, b.instance);
            });
}

void AlertEngine::remove_all(Alert& alert, std::int64_t ts_ms, std::vector<AlertTransition>& out) {
  std::size_t first = out.size();
  for (auto& [name, instance] : alert.instances) {
    change(alert, name, instance, AlertStatus::kRemoved, std::nullopt, Cause::kSwitchedOff, ts_ms,
           out);
  }
  std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
            [](const AlertTransition& a, const AlertTransition& b) {
              return instance_less(a.instance, b.instance);
            });
  alert.instances.clear();
  alert.failures.clear();
  alert.growth.clear();
  alert.active = false;
  alert.next_due.reset();
}

void AlertEngine::change(Alert& alert, const std::string& name, Instance& instance,
                         AlertStatus status, std::optional<double> value, Cause cause,
                         std::int64_t ts_ms, std::vector<AlertTransition>& out) {
  AlertStatus old_status = instance.status;
  std::optional<double> old_value = instance.value;
  instance.value = value;
  instance.cause = cause;
  if (status == old_status) return;
  instance.status = status;
  instance.since_ms = ts_ms;
  if (status == AlertStatus::kWarning || status == AlertStatus::kCritical) instance.logged = true;
  if (!instance.logged) return;
  // The thresholds in the value's unit: percent; failures (any raises: above 0, and crit off for
  // a failure that only warns); seconds to the limit.
  double warn = alert.config.warn;
  std::optional<double> crit = alert.config.crit;
  if (alert.kind == AlertKind::kCallFailures) {
    warn = 0;
    auto tracked = alert.failures.find(name);
    bool critical =
        tracked != alert.failures.end() && tracked->second.raises == AlertStatus::kCritical;
    crit = critical ? std::optional<double>(0) : std::nullopt;
  } else if (alert.kind == AlertKind::kForecast) {
    warn = std::chrono::duration<double>(alert.config.warn_within).count();
    crit = std::chrono::duration<double>(alert.config.crit_within).count();
  }
  out.push_back(AlertTransition{ts_ms,
                                alert.name,
                                alert.chart,
                                name,
                                old_status,
                                status,
                                old_value,
                                value,
                                warn,
                                crit,
                                summary(alert, name, instance),
                                0,
                                {}});
}

void AlertEngine::change_text(Alert& alert, const std::string& name, Instance& instance,
                              AlertStatus status, std::optional<double> value, std::string text,
                              std::int64_t ts_ms, std::vector<AlertTransition>& out) {
  instance.text = std::move(text);
  change(alert, name, instance, status, value, Cause::kText, ts_ms, out);
}

std::string AlertEngine::summary(const Alert& alert, const std::string& name,
                                 const Instance& instance) {
  switch (instance.cause) {
    case Cause::kNone:
      return "not evaluated yet";
    case Cause::kSwitchedOff:
      return "alert switched off";
    case Cause::kQueueGone:
      return fmt::format("queue {} was removed", name);
    case Cause::kFailureGone:
      return fmt::format("{} is no longer watched", name);
    case Cause::kText:
      return instance.text;
    case Cause::kQueuesUnknown:
    case Cause::kUsage:
      break;
  }
  const AlertRule& rule = *alert.rule;
  std::string queue = rule.per_queue ? fmt::format("queue {}: ", name) : "";
  if (instance.cause == Cause::kQueuesUnknown) return queue + "message queues not collected";
  if (!instance.used) return queue + fmt::format("{} not collected", rule.what);
  if (!instance.limit) return queue + fmt::format("{} is unknown", rule.limit_name);
  if (*instance.limit == 0) return queue + fmt::format("{} is 0", rule.limit_name);
  std::string percent = format_number(instance.value.value_or(0));
  if (rule.per_queue) {
    return fmt::format("queue {}: {} of {} {} ({}% of {})", name, *instance.used, *instance.limit,
                       rule.what, percent, rule.limit_name);
  }
  return fmt::format("{} of {} {} in use ({}% of {})", *instance.used, *instance.limit, rule.what,
                     percent, rule.limit_name);
}

std::vector<AlertState> AlertEngine::states() const {
  std::vector<AlertState> states;
  for (const Alert& alert : alerts_) {
    if (!alert.active) continue;
    std::size_t first = states.size();
    for (const auto& [name, instance] : alert.instances) {
      states.push_back(AlertState{alert.name, alert.chart, name, instance.status, instance.value,
                                  instance.since_ms, summary(alert, name, instance)});
    }
    std::sort(states.begin() + static_cast<std::ptrdiff_t>(first), states.end(),
              [](const AlertState& a, const AlertState& b) {
                return instance_less(a.instance, b.instance);
              });
  }
  for (IpcKind kind : kIpcKinds) {
    const LeakAlert& alert = leaks_[static_cast<std::size_t>(kind)];
    if (alert.status == AlertStatus::kUninitialized || alert.status == AlertStatus::kRemoved) {
      continue;
    }
    states.push_back(AlertState{kLeakAlertName, kLeakAlertChart, std::string(kind_name(kind)),
                                alert.status, static_cast<double>(alert.suspects), alert.since_ms,
                                alert.summary});
  }
  return states;
}

}  // namespace ipctrail
