#include "agent/cli/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iterator>
#include <string_view>

#include "model/charts.h"
#include "model/time_text.h"

namespace ipctrail {

namespace {

using Out = std::back_insert_iterator<std::string>;

// A JSON string literal: quotes, backslashes and control characters escaped.
void write_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      fmt::format_to(Out(out), "\\u{:04x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  out += '"';
}

// Integers stay integers; a rate is always a JSON float ("2.0", not "2"), so that its kind does
// not change with its value. JSON has no NaN or infinity: those are null.
void write_json_number(std::string& out, const DimensionValue& value) {
  if (const std::uint64_t* count = std::get_if<std::uint64_t>(&value)) {
    fmt::format_to(Out(out), "{}", *count);
    return;
  }
  double rate = std::get<double>(value);
  if (!std::isfinite(rate)) {
    out += "null";
    return;
  }
  std::size_t start = out.size();
  fmt::format_to(Out(out), "{}", rate);
  if (out.find_first_of(".e", start) == std::string::npos) out += ".0";
}

// Cumulative totals since counting started, and the time the charts' counts cover.
void write_ipc_calls_json(std::string& out, const IpcCallActivity& activity) {
  out += "{\"attach_mode\":";
  write_json_string(out, activity.attach_mode);
  out += ",\"calls_total\":{";
  for (std::size_t call = 0; call < kIpcCallCount; ++call) {
    fmt::format_to(Out(out), "{}\"{}\":{}", call == 0 ? "" : ",", kIpcCallNames[call],
                   activity.totals.calls[call]);
  }
  out += "},\"failures_total\":{";
  const char* separator = "";
  for (std::size_t call = 0; call < kIpcCallCount; ++call) {
    for (std::size_t error = 0; error < kErrnoClassCount; ++error) {
      if (activity.totals.failures[call][error] == 0) continue;
      fmt::format_to(Out(out), "{}\"{}_{}\":{}", separator, kIpcCallNames[call],
                     kErrnoClassNames[error], activity.totals.failures[call][error]);
      separator = ",";
    }
  }
  out += '}';
  if (activity.since_previous) {
    fmt::format_to(
        Out(out), ",\"window_ms\":{}",
        std::chrono::duration_cast<std::chrono::milliseconds>(activity.since_previous->elapsed)
            .count());
  }
  if (activity.syscall_tax) {
    fmt::format_to(Out(out),
                   ",\"syscall_tax\":{{\"before_ns\":{:.0f},\"after_ns\":{:.0f},\"ratio\":{:.3f}}}",
                   activity.syscall_tax->before_ns, activity.syscall_tax->after_ns,
                   activity.syscall_tax->ratio());
  }
  fmt::format_to(Out(out), ",\"calls_lost\":{{\"recursion\":{},\"namespace_map_full\":{}}}",
                 activity.losses.recursion_misses, activity.losses.other_namespace_calls);
  out += '}';
}

}  // namespace

// Written straight into one string: at 32,000 queues a JSON document tree costs more than the
// whole collection (issue #11), the text does not.
std::string sample_to_json(const Sample& sample) {
  std::string out;
  std::size_t queues = sample.queues ? sample.queues->size() : 0;
  out.reserve(2048 + 128 * queues);
  fmt::format_to(Out(out), "{{\"ts\":{},\"time\":\"{}\",\"charts\":{{", sample.ts_ms,
                 iso8601_utc(sample.ts_ms));
  const char* chart_separator = "";
  for (const Chart& chart : charts_of(sample)) {
    out += chart_separator;
    chart_separator = ",";
    write_json_string(out, chart.id);
    out += ":{\"units\":";
    write_json_string(out, chart.units);
    out += ",\"dimensions\":{";
    const char* separator = "";
    for (const Dimension& dimension : chart.dimensions) {
      out += separator;
      separator = ",";
      write_json_string(out, dimension.name);
      out += ':';
      write_json_number(out, dimension.value);
    }
    out += "}}";
  }
  out += "},\"limits\":{";
  const char* separator = "";
  for (const NamedLimit& limit : named_limits(sample.limits)) {
    out += separator;
    separator = ",";
    if (limit.value) {
      fmt::format_to(Out(out), "\"{}\":{}", limit.name, *limit.value);
    } else {
      fmt::format_to(Out(out), "\"{}\":null", limit.name);
    }
  }
  out += "},\"queues\":[";
  separator = "";
  if (sample.queues) {
    for (const MessageQueue& queue : *sample.queues) {
      fmt::format_to(Out(out),
                     "{}{{\"msqid\":{},\"key\":{},\"uid\":{},\"messages\":{},\"bytes\":{}}}",
                     separator, queue.msqid, queue.key, queue.uid, queue.messages, queue.bytes);
      separator = ",";
    }
  }
  fmt::format_to(Out(out), "],\"skipped_lines\":{}", sample.skipped_lines);
  if (sample.ipc_calls) {
    out += ",\"ipc_calls\":";
    write_ipc_calls_json(out, *sample.ipc_calls);
  }
  out += '}';
  return out;
}

namespace {

std::string count_text(const std::optional<std::uint64_t>& value) {
  return value ? fmt::format("{}", *value) : "n/a";
}

// A limit as people read it: "unlimited" for the kernel's "no limit" (model/sample.h).
std::string limit_text(const std::optional<std::uint64_t>& limit) {
  if (limit && is_unlimited(*limit)) return "unlimited";
  return count_text(limit);
}

// "12 of 32000 semmni (0.0% used)", "of unlimited shmall", or just the limit's name when either
// side is unknown.
std::string usage_text(const std::optional<std::uint64_t>& used, std::string_view limit_name,
                       const std::optional<std::uint64_t>& limit) {
  if (!limit) return fmt::format("limit {} unknown", limit_name);
  if (is_unlimited(*limit)) return fmt::format("of unlimited {}", limit_name);
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
  if (activity.syscall_tax) {
    const SyscallTax& tax = *activity.syscall_tax;
    out += fmt::format("  attaching cost unrelated syscalls: {:.0f} ns -> {:.0f} ns ({:+.0f}%)\n",
                       tax.before_ns, tax.after_ns, 100 * tax.ratio());
  }
  out += fmt::format(
      "  calls not counted: {} skipped by the kernel (a BPF program already running on the CPU), "
      "{} of other namespaces (map full)\n",
      activity.losses.recursion_misses, activity.losses.other_namespace_calls);
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
  // One unit per line: the sizes in bytes (no total limit: shmmax bounds one segment), then the
  // same rounded up to pages, which is what shmall limits.
  std::string human_size = sample.shm_bytes && *sample.shm_bytes >= 1024
                               ? fmt::format("({})", human_bytes(*sample.shm_bytes))
                               : "";
  std::string size_line = fmt::format("  {:<10} {:>12} bytes       {}", "size",
                                      count_text(sample.shm_bytes), human_size);
  size_line.erase(size_line.find_last_not_of(' ') + 1);
  out += size_line + '\n';
  out += fmt::format("  {:<10} {:>12} pages       {}\n", "pages", count_text(sample.shm_pages),
                     usage_text(sample.shm_pages, "shmall", limits.shmall));

  out += "\nLimits\n";
  for (const NamedLimit& limit : named_limits(limits)) {
    out += fmt::format("  {:<8} {}\n", limit.name, limit_text(limit.value));
  }
  if (sample.ipc_calls) out += ipc_calls_table(*sample.ipc_calls);
  if (sample.skipped_lines > 0) {
    out += fmt::format("\n{} malformed procfs lines were skipped\n", sample.skipped_lines);
  }
  return out;
}

}  // namespace ipctrail
