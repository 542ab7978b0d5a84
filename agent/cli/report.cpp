#include "agent/cli/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "model/charts.h"
#include "model/time_text.h"

namespace ipctrail {

namespace {

// Cumulative totals since counting started, and the time the charts' counts cover.
nlohmann::json ipc_calls_to_json(const IpcCallActivity& activity) {
  nlohmann::json calls = nlohmann::json::object();
  nlohmann::json failures = nlohmann::json::object();
  for (std::size_t call = 0; call < kIpcCallCount; ++call) {
    calls[std::string(kIpcCallNames[call])] = activity.totals.calls[call];
    for (std::size_t error = 0; error < kErrnoClassCount; ++error) {
      if (activity.totals.failures[call][error] == 0) continue;
      failures[fmt::format("{}_{}", kIpcCallNames[call], kErrnoClassNames[error])] =
          activity.totals.failures[call][error];
    }
  }
  nlohmann::json json = {{"attach_mode", activity.attach_mode},
                         {"calls_total", std::move(calls)},
                         {"failures_total", std::move(failures)}};
  if (activity.since_previous) {
    json["window_ms"] =
        std::chrono::duration_cast<std::chrono::milliseconds>(activity.since_previous->elapsed)
            .count();
  }
  return json;
}

}  // namespace

nlohmann::json sample_to_json(const Sample& sample) {
  nlohmann::json charts = nlohmann::json::object();
  for (const Chart& chart : charts_of(sample)) {
    nlohmann::json dimensions = nlohmann::json::object();
    for (const Dimension& dimension : chart.dimensions)
      std::visit([&](auto value) { dimensions[dimension.name] = value; }, dimension.value);
    charts[std::string(chart.id)] = {{"units", chart.units}, {"dimensions", std::move(dimensions)}};
  }
  nlohmann::json limits = nlohmann::json::object();
  for (const NamedLimit& limit : named_limits(sample.limits)) {
    limits[std::string(limit.name)] = limit.value ? nlohmann::json(*limit.value) : nlohmann::json();
  }
  nlohmann::json queues = nlohmann::json::array();
  if (sample.queues) {
    for (const MessageQueue& queue : *sample.queues) {
      queues.push_back({{"msqid", queue.msqid},
                        {"key", queue.key},
                        {"uid", queue.uid},
                        {"messages", queue.messages},
                        {"bytes", queue.bytes}});
    }
  }
  nlohmann::json json = {{"ts", sample.ts_ms},          {"time", iso8601_utc(sample.ts_ms)},
                         {"charts", std::move(charts)}, {"limits", std::move(limits)},
                         {"queues", std::move(queues)}, {"skipped_lines", sample.skipped_lines}};
  if (sample.ipc_calls) json["ipc_calls"] = ipc_calls_to_json(*sample.ipc_calls);
  return json;
}

namespace {

std::string count_text(const std::optional<std::uint64_t>& value) {
  return value ? fmt::format("{}", *value) : "n/a";
}

// "12 of 32000 semmni (0.0%)", or just the limit's name when either side is unknown.
std::string usage_text(const std::optional<std::uint64_t>& used, std::string_view limit_name,
                       const std::optional<std::uint64_t>& limit) {
  if (!limit) return fmt::format("limit {} unknown", limit_name);
  if (!used || *limit == 0) return fmt::format("of {} {}", *limit, limit_name);
  double percent = static_cast<double>(*used) * 100.0 / static_cast<double>(*limit);
  return fmt::format("of {} {} ({:.1f}% used)", *limit, limit_name, percent);
}

std::string human_bytes(std::uint64_t bytes) {
  constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, kUnits[unit]);
}

// Calls per second (over the window, when there were two readings) and totals since counting
// started; failures only for the call x errno pairs seen.
std::string ipc_calls_table(const IpcCallActivity& activity) {
  std::optional<IpcCallRates> rates;
  if (activity.since_previous) {
    rates = ipc_call_rates(activity.since_previous->counts, activity.since_previous->elapsed);
  }
  auto rate = [&](auto pick) {
    return rates ? fmt::format("{:.2f}", pick(*rates)) : std::string("n/a");
  };
  std::string out =
      fmt::format("\nIPC system calls (counted with BPF, {})\n", activity.attach_mode);
  out += fmt::format("  {:<18} {:>12} {:>14}\n", "call", "calls/s", "total");
  for (std::size_t call = 0; call < kIpcCallCount; ++call) {
    out += fmt::format("  {:<18} {:>12} {:>14}\n", kIpcCallNames[call],
                       rate([&](const IpcCallRates& rates) { return rates.calls[call]; }),
                       activity.totals.calls[call]);
  }
  bool any_failure = false;
  for (std::size_t call = 0; call < kIpcCallCount; ++call) {
    for (std::size_t error = 0; error < kErrnoClassCount; ++error) {
      std::uint64_t total = activity.totals.failures[call][error];
      if (total == 0) continue;
      if (!any_failure)
        out += fmt::format("  {:<18} {:>12} {:>14}\n", "failed", "calls/s", "total");
      any_failure = true;
      out += fmt::format(
          "  {:<18} {:>12} {:>14}\n",
          fmt::format("{} {}", kIpcCallNames[call], kErrnoClassNames[error]),
          rate([&](const IpcCallRates& rates) { return rates.failures[call][error]; }), total);
    }
  }
  if (!any_failure) out += "  no failed calls\n";
  return out;
}

// Enough rows for a person; the JSON output carries every queue.
constexpr std::size_t kQueueRowsShown = 20;

}  // namespace

std::string sample_to_table(const Sample& sample) {
  const Limits& limits = sample.limits;
  std::string out = fmt::format("System V IPC at {}\n\n", iso8601_utc(sample.ts_ms));

  out += "Semaphores\n";
  out += fmt::format("  {:<10} {:>12} semaphores  {}\n", "in use", count_text(sample.semaphores),
                     usage_text(sample.semaphores, "semmns", limits.semmns));
  out +=
      fmt::format("  {:<10} {:>12} arrays      {}\n", "arrays", count_text(sample.semaphore_arrays),
                  usage_text(sample.semaphore_arrays, "semmni", limits.semmni));

  out += "\nMessage queues\n";
  std::optional<std::uint64_t> queue_count;
  if (sample.queues) queue_count = sample.queues->size();
  out += fmt::format("  {:<10} {:>12} queues      {}\n", "queues", count_text(queue_count),
                     usage_text(queue_count, "msgmni", limits.msgmni));
  if (sample.queues && !sample.queues->empty()) {
    std::vector<const MessageQueue*> fullest;
    for (const MessageQueue& queue : *sample.queues) fullest.push_back(&queue);
    std::size_t shown = std::min(kQueueRowsShown, fullest.size());
    std::partial_sort(fullest.begin(), fullest.begin() + static_cast<std::ptrdiff_t>(shown),
                      fullest.end(), [](const MessageQueue* a, const MessageQueue* b) {
                        return a->bytes != b->bytes ? a->bytes > b->bytes : a->msqid < b->msqid;
                      });
    out += fmt::format("  {:>10}  {:>10}  {:>6}  {:>10}  {:>12}\n", "msqid", "key", "uid",
                       "messages", "bytes");
    for (std::size_t i = 0; i < shown; ++i) {
      const MessageQueue& queue = *fullest[i];
      out += fmt::format("  {:>10}  0x{:08x}  {:>6}  {:>10}  {:>12}\n", queue.msqid,
                         static_cast<std::uint32_t>(queue.key), queue.uid, queue.messages,
                         queue.bytes);
    }
    if (shown < fullest.size()) {
      out +=
          fmt::format("  ... {} more queues (--format json lists all)\n", fullest.size() - shown);
    }
  }

  out += "\nShared memory\n";
  out +=
      fmt::format("  {:<10} {:>12} segments    {}\n", "segments", count_text(sample.shm_segments),
                  usage_text(sample.shm_segments, "shmmni", limits.shmmni));
  std::string bytes_text = sample.shm_bytes ? human_bytes(*sample.shm_bytes) : "n/a";
  out += fmt::format("  {:<10} {:>12}             {}\n", "size", bytes_text,
                     usage_text(sample.shm_pages, "shmall pages", limits.shmall));

  out += "\nLimits\n";
  for (const NamedLimit& limit : named_limits(limits)) {
    out += fmt::format("  {:<8} {}\n", limit.name, count_text(limit.value));
  }
  if (sample.ipc_calls) out += ipc_calls_table(*sample.ipc_calls);
  if (sample.skipped_lines > 0) {
    out += fmt::format("\n{} malformed procfs lines were skipped\n", sample.skipped_lines);
  }
  return out;
}

}  // namespace ipctrail
