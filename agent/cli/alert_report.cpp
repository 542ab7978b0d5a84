#include "agent/cli/alert_report.h"

#include <fmt/format.h>
#include <unistd.h>

#include <variant>

#include "agent/alerts/alert_rules.h"
#include "model/chart_table.h"
#include "model/settings.h"
#include "model/time_text.h"
#include "model/units.h"

namespace ipctrail {

namespace {

double as_double(const StoredValue& value) {
  return std::visit([](auto number) { return static_cast<double>(number); }, value);
}

// The latest stored values at one moment, by chart and dimension.
class Latest {
 public:
  explicit Latest(Snapshot snapshot) : snapshot_(std::move(snapshot)) {}

  const SeriesValue* find(std::string_view chart, std::string_view dimension) const {
    for (const SeriesValue& value : snapshot_.values) {
      if (value.series.chart == chart && value.series.dimension == dimension) return &value;
    }
    return nullptr;
  }
  // The series of a per-queue chart that hold a value (the queues that exist), and the newest ts.
  std::pair<std::size_t, std::int64_t> count(std::string_view chart) const {
    std::size_t series = 0;
    std::int64_t newest = 0;
    for (const SeriesValue& value : snapshot_.values) {
      if (value.series.chart != chart) continue;
      ++series;
      newest = std::max(newest, value.point.ts_ms);
    }
    return {series, newest};
  }
  std::optional<double> limit(std::string_view name) const {
    const SeriesValue* value = find(chart::kLimits.id, name);
    if (value == nullptr || !value->point.value) return std::nullopt;
    return as_double(*value->point.value);
  }
  std::int64_t ts() const { return snapshot_.ts_ms; }
  bool sampling() const { return snapshot_.span.has_value(); }

 private:
  Snapshot snapshot_;
};

const AlertRule* usage_rule(std::string_view alert) {
  if (alert_kind(alert) == AlertKind::kForecast) return &forecast_resource(alert);
  for (const AlertRule& rule : alert_rules()) {
    if (rule.name == alert) return &rule;
  }
  return nullptr;
}

// Shared memory pages in use, as the agent counts them against shmall: each segment's size
// rounded up to pages.
std::optional<CurrentValue> shared_memory_pages(HistoryReader& reader, const Latest& latest,
                                                std::int64_t at_ms) {
  const SeriesValue* bytes = latest.find(chart::kShmBytes.id, chart::kShmBytes.dimension);
  if (bytes == nullptr) return std::nullopt;
  auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  std::uint64_t pages = 0;
  for (const StoredObject& stored : reader.objects_at(at_ms)) {
    if (stored.object.kind == IpcKind::kSharedMemory)
      pages += (stored.object.size + page - 1) / page;
  }
  return CurrentValue{bytes->point.ts_ms, static_cast<double>(pages), latest.limit("shmall"),
                      "shared memory pages"};
}

std::optional<CurrentValue> resource_value(HistoryReader& reader, const Latest& latest,
                                           const AlertRecord& state, std::int64_t at_ms) {
  if (alert_kind(state.alert) == AlertKind::kCallFailures) {
    Duration window = Config::default_alerts().at(state.alert).window;
    std::int64_t since = at_ms - window.count();
    std::int64_t failures = 0;
    for (const SeriesSums& sums : reader.step_sums(std::string(chart::kCallErrors.id),
                                                   state.instance, since, at_ms, window.count())) {
      for (const StepSum& step : sums.steps) failures += step.sum.value_or(0);
    }
    return CurrentValue{at_ms, static_cast<double>(failures), std::nullopt,
                        fmt::format("failures in the last {}", format_duration(window))};
  }
  const AlertRule* rule = usage_rule(state.alert);
  if (rule == nullptr) return std::nullopt;
  if (rule->per_queue) {
    const SeriesValue* bytes = latest.find(rule->chart, state.instance);
    if (bytes == nullptr || !bytes->point.value) return std::nullopt;
    return CurrentValue{bytes->point.ts_ms, as_double(*bytes->point.value), std::nullopt,
                        std::string(rule->what)};
  }
  if (rule->chart == chart::kQueueMessages.id) {
    auto [queues, ts] = latest.count(rule->chart);
    if (!latest.sampling() && queues == 0) return std::nullopt;
    return CurrentValue{queues == 0 ? latest.ts() : ts, static_cast<double>(queues),
                        latest.limit(rule->limit_name), std::string(rule->what)};
  }
  if (rule->limit_name == "shmall") return shared_memory_pages(reader, latest, at_ms);
  const ChartSpec* spec = find_chart(rule->chart);
  const SeriesValue* value = spec == nullptr ? nullptr : latest.find(spec->id, spec->dimension);
  if (value == nullptr || !value->point.value) return std::nullopt;
  return CurrentValue{value->point.ts_ms, as_double(*value->point.value),
                      latest.limit(rule->limit_name), std::string(rule->what)};
}

}  // namespace

std::optional<double> CurrentValue::percent() const {
  if (!limit || *limit <= 0) return std::nullopt;
  return value * 100.0 / *limit;
}

std::vector<std::optional<CurrentValue>> current_values(HistoryReader& reader,
                                                        const std::vector<AlertRecord>& states,
                                                        std::int64_t at_ms) {
  std::vector<std::optional<CurrentValue>> values;
  if (states.empty()) return values;
  Latest latest(reader.snapshot_at(at_ms));
  for (const AlertRecord& state : states) {
    values.push_back(resource_value(reader, latest, state, at_ms));
  }
  return values;
}

std::string alert_value_text(const std::optional<double>& value) {
  return value ? fmt::format("{:.1f}", *value) : "-";
}

std::string current_value_text(const std::optional<CurrentValue>& now) {
  if (!now) return "-";
  if (std::optional<double> percent = now->percent()) {
    return fmt::format("{} of {} ({}%)", format_number(now->value), format_number(*now->limit),
                       format_number(*percent));
  }
  return fmt::format("{} {}", format_number(now->value), now->unit);
}

std::string alert_states_table(const std::vector<AlertRecord>& states,
                               const std::vector<std::optional<CurrentValue>>* now) {
  std::string out =
      fmt::format("{:<33} {:<13} {:<13} {:>7}  ", "alert", "instance", "status", "value");
  if (now != nullptr) out += fmt::format("{:<24}  ", "now");
  out += fmt::format("{:<24}  {}\n", "since", "summary");
  for (std::size_t i = 0; i < states.size(); ++i) {
    const AlertRecord& state = states[i];
    out += fmt::format("{:<33} {:<13} {:<13} {:>7}  ", state.alert,
                       state.instance.empty() ? "-" : state.instance, status_name(state.new_status),
                       alert_value_text(state.new_value));
    if (now != nullptr) out += fmt::format("{:<24}  ", current_value_text((*now)[i]));
    out += fmt::format("{:<24}  {}\n", iso8601_utc(state.ts_ms), state.summary);
  }
  return out;
}

nlohmann::json alert_state_json(const AlertRecord& state) {
  return {{"alert", state.alert},
          {"chart", state.chart},
          {"instance", state.instance},
          {"status", status_name(state.new_status)},
          {"status_code", static_cast<int>(state.new_status)},
          {"value", state.new_value ? nlohmann::json(*state.new_value) : nlohmann::json()},
          {"since", state.ts_ms},
          {"since_time", iso8601_utc(state.ts_ms)},
          {"summary", state.summary}};
}

nlohmann::json current_value_json(const std::optional<CurrentValue>& now) {
  if (!now) return nullptr;
  auto optional = [](const std::optional<double>& value) {
    return value ? nlohmann::json(*value) : nlohmann::json();
  };
  return {{"ts", now->ts_ms},
          {"time", iso8601_utc(now->ts_ms)},
          {"value", now->value},
          {"limit", optional(now->limit)},
          {"percent", optional(now->percent())},
          {"unit", now->unit}};
}

}  // namespace ipctrail
