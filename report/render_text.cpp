#include <fmt/format.h>

#include <iterator>

#include "model/ipc_objects.h"
#include "model/time_text.h"
#include "report/process_text.h"
#include "report/render.h"
#include "report/report_text.h"

namespace ipctrail {

namespace {

using Out = std::back_insert_iterator<std::string>;

// Control characters from the file (keys, summaries, reasons) would rewrite the terminal: shown
// as '?' instead.
std::string printable(std::string_view text) {
  std::string shown(text);
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return shown;
}

void write_resource(std::string& out, const ResourceReport& r) {
  if (!r.peak || (*r.peak == 0 && r.start == r.end)) {
    fmt::format_to(Out(out), "  {}: {} throughout; limit {}\n", r.title,
                   r.peak ? "0" : "not recorded", limit_text(r));
    return;
  }
  fmt::format_to(Out(out), "  {} ({}): start {}, end {}, limit {}\n", r.title, r.units,
                 number_text(r.start), number_text(r.end), limit_text(r));
  fmt::format_to(Out(out), "    peak {} at {} ({} of the limit)\n", number_text(r.peak),
                 time_or_never(r.peak_ms), percent_text(r.peak_percent));
  if (!r.limit_name.empty()) {
    fmt::format_to(Out(out), "    limit first reached: {}\n", time_or_never(r.limit_reached_ms));
  }
  fmt::format_to(Out(out), "    growth started: {}\n", time_or_never(r.growth_started_ms));
  if (r.fastest_growth_per_minute) {
    fmt::format_to(Out(out), "    fastest growth: +{} {}/min (the minute to {})\n",
                   number_text(r.fastest_growth_per_minute), r.units,
                   time_or_never(r.fastest_growth_ms));
  }
  if (!r.limit_note.empty()) fmt::format_to(Out(out), "    ({})\n", r.limit_note);
}

}  // namespace

std::string render_text(const Report& report) {
  std::string out;
  fmt::format_to(Out(out), "ipctrail report: {}\nIPC namespace: {}\nwindow: {} to {} ({})\n\n",
                 printable(report.file), printable(report.ipc_namespace),
                 iso8601_utc(report.since_ms), iso8601_utc(report.until_ms),
                 duration_text(report.until_ms - report.since_ms));

  const Coverage& coverage = report.coverage;
  std::int64_t window_ms = report.until_ms - report.since_ms;
  fmt::format_to(Out(out), "Coverage: sampled {} of {} ({})\n", duration_text(coverage.sampled_ms),
                 duration_text(window_ms),
                 percent_text(100.0 * static_cast<double>(coverage.sampled_ms) /
                              static_cast<double>(window_ms)));
  for (const Span& span : coverage.spans) {
    fmt::format_to(Out(out), "  span {} to {}, every {}\n", iso8601_utc(span.start_ms),
                   iso8601_utc(span.last_ms), duration_text(span.interval_ms));
  }
  for (const Gap& gap : coverage.gaps) {
    fmt::format_to(Out(out), "  gap  {} to {} ({})\n", iso8601_utc(gap.from_ms),
                   iso8601_utc(gap.to_ms), duration_text(gap.to_ms - gap.from_ms));
  }

  out += "\nResources\n";
  for (const ResourceReport& resource : report.resources) write_resource(out, resource);

  fmt::format_to(Out(out), "\nAlert transitions ({})\n", report.transitions.size());
  for (const TransitionReport& t : report.transitions) {
    fmt::format_to(Out(out), "  {}  {}{}{}  {} -> {}  value {}", iso8601_utc(t.record.ts_ms),
                   printable(t.record.alert), t.record.instance.empty() ? "" : " ",
                   printable(t.record.instance), status_name(t.record.old_status),
                   status_name(t.record.new_status),
                   t.record.new_value ? number_text(t.record.new_value) : "unknown");
    if (t.lead_ms) {
      fmt::format_to(Out(out), "  lead {} the first {}", lead_text(*t.lead_ms), t.first_failure);
    }
    out += '\n';
    if (!t.record.summary.empty())
      fmt::format_to(Out(out), "      {}\n", printable(t.record.summary));
  }

  out += "\nFailures by call and errno\n";
  if (!report.calls_recorded && report.failures.empty()) {
    out += "  not recorded in this window (BPF call counting was off)\n";
  } else if (report.failures.empty()) {
    out += "  none\n";
  }
  for (const FailureReport& f : report.failures) {
    fmt::format_to(Out(out), "  {} {}: {} failures, first {}, last {}\n", printable(f.call),
                   printable(f.error), f.count, iso8601_utc(f.first_ms), iso8601_utc(f.last_ms));
  }

  const PerProcess& per_process = report.per_process;
  out += "\nFailures by process (largest first)\n";
  if (!per_process.recorded()) {
    fmt::format_to(Out(out), "  {}\n", attribution_note(per_process.missing));
  } else if (per_process.failures.empty()) {
    out += "  none\n";
  }
  for (const ProcessCallTotal& f : per_process.failures) {
    fmt::format_to(Out(out), "  {} {} {}: {} failures, first {}, last {} (pid{} {})\n",
                   printable(process_name_text(f.comm, f.unit)), f.call, f.error.value_or("?"),
                   f.count, iso8601_utc(f.first_ms), iso8601_utc(f.last_ms),
                   f.pids.size() > 1 ? "s" : "", pids_text(f.pids));
  }
  if (per_process.recorded()) fmt::format_to(Out(out), "  {}\n", losses_text(per_process));

  fmt::format_to(Out(out),
                 "\nObjects created / removed\n  semaphore arrays {} / {}\n  queues {} / {}\n"
                 "  segments {} / {}\n",
                 report.created.semaphore_arrays, report.removed.semaphore_arrays,
                 report.created.queues, report.removed.queues, report.created.segments,
                 report.removed.segments);
  if (per_process.recorded() && !per_process.objects.empty()) {
    out += "  by process (created / removed):\n";
  }
  for (const ObjectsByProcess& row : per_process.objects) {
    fmt::format_to(Out(out), "    {} {}: {} / {}{}\n", kind_name(row.kind),
                   row.comm ? printable(process_name_text(*row.comm, row.unit)) : "unknown process",
                   row.created, row.removed,
                   row.pids.empty() ? ""
                                    : fmt::format(" (pid{} {})", row.pids.size() > 1 ? "s" : "",
                                                  pids_text(row.pids)));
  }

  fmt::format_to(Out(out), "\nLeak suspects at the end ({})\n", report.leak_suspects.size());
  for (const StoredObject& stored : report.leak_suspects) {
    fmt::format_to(Out(out), "  {} {} key 0x{:08x} created by {} at {}: {}\n",
                   kind_name(stored.object.kind), stored.object.id,
                   static_cast<std::uint32_t>(stored.object.key),
                   printable(creator_text(stored.creator)), iso8601_utc(stored.created_ms),
                   printable(stored.leak_reason.value_or("")));
  }

  fmt::format_to(Out(out), "\nFullest queues ({})\n", report.fullest_queues.size());
  for (const QueueReport& q : report.fullest_queues) {
    fmt::format_to(
        Out(out), "  msqid {} key {} uid {}: peak {} bytes at {}{}, end {} bytes, {} messages\n",
        printable(q.msqid),
        q.key ? fmt::format("0x{:08x}", static_cast<std::uint32_t>(*q.key)) : "?",
        q.owner_uid ? std::to_string(*q.owner_uid) : "?", number_text(q.peak_bytes),
        iso8601_utc(q.peak_ms),
        q.capacity
            ? fmt::format(" ({} of msgmnb)", percent_text(q.peak_bytes * 100.0 / *q.capacity))
            : "",
        number_text(q.end_bytes), number_text(q.end_messages));
  }

  const StillHappening& still = report.still_happening;
  fmt::format_to(Out(out), "\nStill happening (from {}): {}\n", iso8601_utc(still.from_ms),
                 still_happening_text(still));
  for (const auto& [failure, count] : still.failing) {
    fmt::format_to(Out(out), "  {}: {} failures\n", failure, count);
  }
  for (const std::string& growing : still.growing) {
    fmt::format_to(Out(out), "  {} growing\n", growing);
  }
  return out;
}

}  // namespace ipctrail
