#include "agent/alerts/alerts.h"

#include <fmt/format.h>

#include <algorithm>

#include "model/units.h"

namespace ipctrail {

namespace {

// Decimal msqids sort as numbers when shorter ones come first.
bool instance_less(std::string_view a, std::string_view b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
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

AlertEngine::AlertEngine(const AlertConfigs& alerts) {
  for (const AlertRule& rule : alert_rules()) alerts_.push_back(Alert{&rule, {}, false, {}, {}});
  reconfigure(alerts);
}

void AlertEngine::reconfigure(const AlertConfigs& alerts) {
  for (Alert& alert : alerts_) {
    auto configured = alerts.find(alert.rule->name);
    AlertConfig config = configured == alerts.end() ? AlertConfig{} : configured->second;
    if (alert.next_due) alert.next_due = *alert.next_due - alert.config.every + config.every;
    alert.config = config;
    if (config.enabled && !alert.active) {
      alert.active = true;
      alert.next_due.reset();
      alert.instances.clear();
      // A whole-system alert exists, UNINITIALIZED, before its first evaluation.
      if (!alert.rule->per_queue) alert.instances[""].logged = true;
    }
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
    if (alert.next_due && now < *alert.next_due) continue;
    alert.next_due =
        alert.next_due ? *alert.next_due + alert.config.every : now + alert.config.every;
    // After a stall, evaluate once and resume from now instead of catching up.
    if (*alert.next_due <= now) alert.next_due = now + alert.config.every;
    evaluate_alert(alert, sample, out);
  }
  evaluate_leaks(sample, out);
  return out;
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
                                    .summary = alert.summary});
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
        .summary = summary});
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
  if (instance.logged) {
    out.push_back(AlertTransition{ts_ms, alert.rule->name, alert.rule->chart, name, old_status,
                                  status, old_value, value, alert.config.warn, alert.config.crit,
                                  summary(*alert.rule, name, instance)});
  }
}

std::string AlertEngine::summary(const AlertRule& rule, const std::string& name,
                                 const Instance& instance) {
  std::string queue = rule.per_queue ? fmt::format("queue {}: ", name) : "";
  switch (instance.cause) {
    case Cause::kNone:
      return "not evaluated yet";
    case Cause::kSwitchedOff:
      return "alert switched off";
    case Cause::kQueueGone:
      return fmt::format("queue {} was removed", name);
    case Cause::kQueuesUnknown:
      return queue + "message queues not collected";
    case Cause::kUsage:
      break;
  }
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
      states.push_back(AlertState{alert.rule->name, alert.rule->chart, name, instance.status,
                                  instance.value, instance.since_ms,
                                  summary(*alert.rule, name, instance)});
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
