#include "agent/alerts.h"

#include <fmt/format.h>

#include <algorithm>

#include "config/units.h"

namespace ipctrail {

namespace {

// Decimal msqids sort as numbers when shorter ones come first.
bool instance_less(std::string_view a, std::string_view b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

std::string usage_summary(const AlertRule& rule, const Usage& usage, double percent) {
  std::string text = fmt::format("{} of {} {} in use ({}% of {})", *usage.used, *usage.limit,
                                 rule.what, format_number(percent), rule.limit_name);
  if (rule.per_queue) {
    text = fmt::format("queue {}: {} of {} {} ({}% of {})", usage.instance, *usage.used,
                       *usage.limit, rule.what, format_number(percent), rule.limit_name);
  }
  return text;
}

std::string undefined_summary(const AlertRule& rule, const Usage& usage) {
  std::string prefix = rule.per_queue ? fmt::format("queue {}: ", usage.instance) : "";
  if (!usage.used) return prefix + fmt::format("{} not collected", rule.what);
  if (!usage.limit) return prefix + fmt::format("{} is unknown", rule.limit_name);
  return prefix + fmt::format("{} is 0", rule.limit_name);
}

}  // namespace

std::string_view status_name(AlertStatus status) {
  switch (status) {
    case AlertStatus::kRemoved:
      return "REMOVED";
    case AlertStatus::kUndefined:
      return "UNDEFINED";
    case AlertStatus::kUninitialized:
      return "UNINITIALIZED";
    case AlertStatus::kClear:
      return "CLEAR";
    case AlertStatus::kRaised:
      return "RAISED";
    case AlertStatus::kWarning:
      return "WARNING";
    case AlertStatus::kCritical:
      return "CRITICAL";
  }
  return "UNKNOWN";
}

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
  return out;
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
    if (usage.used && usage.limit && *usage.limit != 0) {
      double percent = static_cast<double>(*usage.used) * 100.0 / static_cast<double>(*usage.limit);
      change(alert, usage.instance, instance, status_for(percent, instance.status, alert.config),
             percent, usage_summary(rule, usage, percent), sample.ts_ms, out);
    } else {
      change(alert, usage.instance, instance, AlertStatus::kUndefined, std::nullopt,
             undefined_summary(rule, usage), sample.ts_ms, out);
    }
  }
  if (rule.per_queue) {
    for (auto& [name, instance] : alert.instances) {
      if (instance.seen_in == evaluations_) continue;
      if (instances_known) {
        change(alert, name, instance, AlertStatus::kRemoved, std::nullopt,
               fmt::format("queue {} was removed", name), sample.ts_ms, out);
      } else {
        change(alert, name, instance, AlertStatus::kUndefined, std::nullopt,
               fmt::format("queue {}: message queues not collected", name), sample.ts_ms, out);
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
    change(alert, name, instance, AlertStatus::kRemoved, std::nullopt, "alert switched off", ts_ms,
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
                         AlertStatus status, std::optional<double> value, std::string summary,
                         std::int64_t ts_ms, std::vector<AlertTransition>& out) {
  if (status != instance.status) {
    if (status == AlertStatus::kWarning || status == AlertStatus::kCritical) instance.logged = true;
    if (instance.logged) {
      out.push_back(AlertTransition{ts_ms, alert.rule->name, alert.rule->chart, name,
                                    instance.status, status, instance.value, value,
                                    alert.config.warn, alert.config.crit, summary});
    }
    instance.status = status;
    instance.since_ms = ts_ms;
  }
  instance.value = value;
  instance.summary = std::move(summary);
}

std::vector<AlertState> AlertEngine::states() const {
  std::vector<AlertState> states;
  for (const Alert& alert : alerts_) {
    if (!alert.active) continue;
    std::size_t first = states.size();
    for (const auto& [name, instance] : alert.instances) {
      states.push_back(AlertState{alert.rule->name, alert.rule->chart, name, instance.status,
                                  instance.value, instance.since_ms, instance.summary});
    }
    std::sort(states.begin() + static_cast<std::ptrdiff_t>(first), states.end(),
              [](const AlertState& a, const AlertState& b) {
                return instance_less(a.instance, b.instance);
              });
  }
  return states;
}

}  // namespace ipctrail
