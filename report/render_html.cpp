#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "model/ipc_objects.h"
#include "model/time_text.h"
#include "report/plot.h"
#include "report/process_text.h"
#include "report/render.h"
#include "report/report_text.h"

namespace ipctrail {

namespace {

using Out = std::back_insert_iterator<std::string>;

// The plot's geometry, in SVG user units (= CSS pixels): one pixel column per plot column.
constexpr int kLeft = 70;
constexpr int kColumns = 760;
constexpr int kWidth = kLeft + kColumns + 10;
constexpr int kTop = 10;
constexpr int kPlotHeight = 140;
constexpr int kBarsTop = kTop + kPlotHeight + 10;
constexpr int kBarsHeight = 30;
constexpr int kHeight = kBarsTop + kBarsHeight + 20;

// No external resource of any kind: the file must open offline, on an air-gapped jump host.
constexpr const char* kStyle = R"css(
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ccc; padding: .2em .5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.answer-yes { color: #b00; font-weight: bold; } .answer-no { color: #070; font-weight: bold; }
svg.plot { display: block; background: #fff; border: 1px solid #ddd; }
svg .series { fill: none; stroke: #1f5fbf; stroke-width: 1.2; }
svg .limit { fill: none; stroke: #c00; stroke-width: 1.2; stroke-dasharray: 6 3; }
svg .band.warning { fill: #f5c242; fill-opacity: .35; }
svg .band.critical { fill: #e0412f; fill-opacity: .3; }
svg .gap { fill: #999; fill-opacity: .15; }
svg .failure-bar { fill: #b00; }
svg text { font: 11px system-ui, sans-serif; fill: #555; }
svg .axis { stroke: #999; stroke-width: 1; }
.note { color: #666; }
)css";

std::string e(std::string_view text) {
  return html_escape(text);
}

double x_of(std::int64_t ts_ms, const Report& report) {
  double fraction = static_cast<double>(ts_ms - report.since_ms) /
                    static_cast<double>(report.until_ms - report.since_ms);
  return kLeft + std::clamp(fraction, 0.0, 1.0) * kColumns;
}

void write_bars(std::string& out, const Report& report,
                const std::vector<const FailureReport*>& failures) {
  std::vector<CountRun> runs;
  std::int64_t total = 0;
  for (const FailureReport* failure : failures) {
    runs.insert(runs.end(), failure->runs.begin(), failure->runs.end());
    total += failure->count;
  }
  std::vector<std::int64_t> sums =
      sums_per_column(runs, report.since_ms, report.until_ms, kColumns);
  std::int64_t highest = std::max<std::int64_t>(1, *std::max_element(sums.begin(), sums.end()));
  fmt::format_to(Out(out), "<g class=\"failures\" data-total=\"{}\">", total);
  for (std::size_t column = 0; column < sums.size(); ++column) {
    if (sums[column] == 0) continue;
    double height = std::max(
        1.0, static_cast<double>(sums[column]) * kBarsHeight / static_cast<double>(highest));
    fmt::format_to(Out(out),
                   "<rect class=\"failure-bar\" data-count=\"{}\" x=\"{}\" y=\"{:.1f}\" "
                   "width=\"1\" height=\"{:.1f}\"/>",
                   sums[column], kLeft + column, kBarsTop + kBarsHeight - height, height);
  }
  fmt::format_to(Out(out),
                 "</g><text x=\"2\" y=\"{}\">failures</text><text x=\"2\" y=\"{}\">max {}</text>",
                 kBarsTop + 12, kBarsTop + 26, highest);
}

void write_time_axis(std::string& out, const Report& report) {
  fmt::format_to(Out(out),
                 "<text x=\"{}\" y=\"{}\">{}</text><text x=\"{}\" y=\"{}\" "
                 "text-anchor=\"end\">{}</text>",
                 kLeft, kHeight - 4, iso8601_utc(report.since_ms), kLeft + kColumns, kHeight - 4,
                 iso8601_utc(report.until_ms));
}

// A step path over the columns: from each column's highest to its lowest value, joined to the
// next; broken where nothing is known.
std::string column_path(const std::vector<PlotColumn>& columns, double top) {
  std::string path;
  bool drawing = false;
  auto y = [top](double value) { return kTop + kPlotHeight - value / top * kPlotHeight; };
  for (std::size_t column = 0; column < columns.size(); ++column) {
    if (!columns[column].max) {
      drawing = false;
      continue;
    }
    fmt::format_to(Out(path), "{}{} {:.1f}L{} {:.1f}", drawing ? "L" : "M", kLeft + column,
                   y(*columns[column].max), kLeft + column, y(*columns[column].min));
    drawing = true;
  }
  return path;
}

void write_plot(std::string& out, const Report& report, const ResourceReport& resource) {
  std::vector<PlotColumn> values =
      min_max_columns(resource.levels, report.since_ms, report.until_ms, kColumns);
  std::vector<PlotColumn> limits =
      min_max_columns(resource.limit_levels, report.since_ms, report.until_ms, kColumns);
  double top = std::max(1.0, resource.peak.value_or(0));
  for (const PlotColumn& column : limits) {
    if (column.max) top = std::max(top, *column.max);
  }
  top *= 1.05;
  fmt::format_to(Out(out),
                 "<svg class=\"plot\" data-resource=\"{}\" width=\"{}\" height=\"{}\" "
                 "viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{} against its limit\">",
                 e(resource.id), kWidth, kHeight, kWidth, kHeight, e(resource.title));
  for (const Gap& gap : report.coverage.gaps) {
    fmt::format_to(Out(out),
                   "<rect class=\"gap\" x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\"/>",
                   x_of(gap.from_ms, report), kTop,
                   x_of(gap.to_ms, report) - x_of(gap.from_ms, report), kPlotHeight);
  }
  for (const AlertBand& band : report.bands) {
    if (band.resource != resource.id) continue;
    bool critical = band.status == AlertStatus::kCritical;
    fmt::format_to(Out(out),
                   "<rect class=\"band {}\" data-alert=\"{}\" data-instance=\"{}\" "
                   "data-status=\"{}\" data-from=\"{}\" data-to=\"{}\" x=\"{:.1f}\" y=\"{}\" "
                   "width=\"{:.1f}\" height=\"{}\"><title>{} {} {} to {}</title></rect>",
                   critical ? "critical" : "warning", e(band.alert), e(band.instance),
                   status_name(band.status), iso8601_utc(band.from_ms), iso8601_utc(band.to_ms),
                   x_of(band.from_ms, report), kTop,
                   std::max(1.0, x_of(band.to_ms, report) - x_of(band.from_ms, report)),
                   kPlotHeight, e(band.alert), status_name(band.status), iso8601_utc(band.from_ms),
                   iso8601_utc(band.to_ms));
  }
  fmt::format_to(Out(out),
                 "<line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>"
                 "<text x=\"2\" y=\"{}\">{}</text><text x=\"2\" y=\"{}\">0</text>",
                 kLeft, kTop + kPlotHeight, kLeft + kColumns, kTop + kPlotHeight, kTop + 10,
                 e(number_text(top / 1.05)), kTop + kPlotHeight);
  std::string limit_path = column_path(limits, top);
  if (!limit_path.empty()) {
    fmt::format_to(Out(out), "<path class=\"limit\" data-limit=\"{}\" d=\"{}\"/>",
                   e(number_text(resource.limit)), limit_path);
  }
  fmt::format_to(Out(out), "<path class=\"series\" data-peak=\"{}\" d=\"{}\"/>",
                 e(number_text(resource.peak)), column_path(values, top));
  std::vector<const FailureReport*> related;
  for (const FailureReport& failure : report.failures) {
    if (std::find(resource.failures.begin(), resource.failures.end(), failure.dimension) !=
        resource.failures.end()) {
      related.push_back(&failure);
    }
  }
  write_bars(out, report, related);
  write_time_axis(out, report);
  out += "</svg>\n";
}

void row(std::string& out, std::initializer_list<std::string> cells, const char* tag = "td") {
  out += "<tr>";
  for (const std::string& cell : cells) fmt::format_to(Out(out), "<{0}>{1}</{0}>", tag, e(cell));
  out += "</tr>\n";
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
          out += "\xEF\xBF\xBD";
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string render_html(const Report& report) {
  std::string out;
  std::string window =
      fmt::format("{} to {}", iso8601_utc(report.since_ms), iso8601_utc(report.until_ms));
  fmt::format_to(
      Out(out),
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"generator\" content=\"ipctrail {}\">"
      "<title>ipctrail report {}</title><style>{}</style></head><body>\n"
      "<h1>ipctrail report</h1>\n<p>File <code>{}</code>, IPC namespace <code>{}</code>, "
      "window {} ({}).</p>\n",
      IPCTRAIL_VERSION, e(window), kStyle, e(report.file), e(report.ipc_namespace), e(window),
      e(duration_text(report.until_ms - report.since_ms)));

  const StillHappening& still = report.still_happening;
  fmt::format_to(Out(out),
                 "<p id=\"still-happening\">Still happening (from {}): <span "
                 "class=\"answer-{}\">{}</span></p>\n",
                 e(iso8601_utc(still.from_ms)), still.yes() ? "yes" : "no",
                 e(still_happening_text(still)));
  out += "<table class=\"still\">";
  row(out, {"still failing or growing", "count"}, "th");
  for (const auto& [failure, count] : still.failing) row(out, {failure, std::to_string(count)});
  for (const std::string& growing : still.growing) row(out, {growing + " growing", ""});
  out += "</table>\n";

  std::int64_t window_ms = report.until_ms - report.since_ms;
  fmt::format_to(Out(out),
                 "<h2>Coverage</h2><p>Sampled {} of {} ({}).</p><table class=\"coverage\">",
                 e(duration_text(report.coverage.sampled_ms)), e(duration_text(window_ms)),
                 e(percent_text(100.0 * static_cast<double>(report.coverage.sampled_ms) /
                                static_cast<double>(window_ms))));
  row(out, {"", "from", "to", "interval or length"}, "th");
  for (const Span& span : report.coverage.spans) {
    row(out, {"span", iso8601_utc(span.start_ms), iso8601_utc(span.last_ms),
              duration_text(span.interval_ms)});
  }
  for (const Gap& gap : report.coverage.gaps) {
    row(out, {"gap", iso8601_utc(gap.from_ms), iso8601_utc(gap.to_ms),
              duration_text(gap.to_ms - gap.from_ms)});
  }
  out += "</table>\n<h2>Resources</h2>\n<table class=\"resources\">";
  row(out,
      {"resource", "start", "peak", "peak at", "end", "limit", "peak % of limit",
       "limit first reached", "growth started", "fastest growth /min", "in the minute to"},
      "th");
  for (const ResourceReport& r : report.resources) {
    row(out, {r.title, number_text(r.start), number_text(r.peak), time_or_never(r.peak_ms),
              number_text(r.end), limit_text(r), percent_text(r.peak_percent),
              r.limit_name.empty() ? "-" : time_or_never(r.limit_reached_ms),
              time_or_never(r.growth_started_ms),
              r.fastest_growth_per_minute ? number_text(r.fastest_growth_per_minute) : "-",
              time_or_never(r.fastest_growth_ms)});
  }
  out +=
      "</table>\n<p class=\"note\">Plots: the value (blue; each pixel column spans its lowest to "
      "highest value, so short spikes stay), the limit (red, dashed), alerts raised (yellow: "
      "WARNING, red: CRITICAL), gaps in sampling (grey), and the failures that mean the "
      "resource ran out (bars below, per pixel column).</p>\n";
  for (const ResourceReport& r : report.resources) {
    fmt::format_to(Out(out), "<h3>{} ({})</h3>\n", e(r.title), e(r.units));
    if (!r.limit_note.empty())
      fmt::format_to(Out(out), "<p class=\"note\">{}</p>\n", e(r.limit_note));
    write_plot(out, report, r);
  }

  fmt::format_to(Out(out), "<h2>Alert transitions ({})</h2>\n<table class=\"alerts\">",
                 report.transitions.size());
  row(out,
      {"time", "alert", "instance", "from", "to", "value", "lead before first failure",
       "first failure", "summary"},
      "th");
  for (const TransitionReport& t : report.transitions) {
    row(out, {iso8601_utc(t.record.ts_ms), t.record.alert, t.record.instance,
              std::string(status_name(t.record.old_status)),
              std::string(status_name(t.record.new_status)), number_text(t.record.new_value),
              t.lead_ms ? lead_text(*t.lead_ms) : "-", t.first_failure, t.record.summary});
  }
  out += "</table>\n<h2>Failures by call and errno</h2>\n";
  if (!report.calls_recorded && report.failures.empty()) {
    out += "<p>Not recorded in this window (BPF call counting was off).</p>\n";
  }
  out += "<table class=\"failures\">";
  row(out, {"call", "errno", "count", "first", "last"}, "th");
  for (const FailureReport& f : report.failures) {
    row(out, {f.call, f.error, std::to_string(f.count), iso8601_utc(f.first_ms),
              iso8601_utc(f.last_ms)});
  }
  out += "</table>\n";
  const PerProcess& per_process = report.per_process;
  out += "<h2>Failures by process</h2>\n";
  if (!per_process.recorded()) {
    fmt::format_to(Out(out), "<p class=\"note\">{}</p>\n",
                   e(attribution_note(per_process.missing)));
  } else {
    out += "<table class=\"failures-by-process\">";
    row(out, {"process", "unit", "pids", "call", "errno", "count", "first", "last"}, "th");
    for (const ProcessCallTotal& f : per_process.failures) {
      row(out, {f.comm, f.unit.value_or("-"), pids_text(f.pids), f.call, f.error.value_or("?"),
                std::to_string(f.count), iso8601_utc(f.first_ms), iso8601_utc(f.last_ms)});
    }
    fmt::format_to(Out(out), "</table>\n<p class=\"losses\">{}</p>\n", e(losses_text(per_process)));
  }
  std::vector<const FailureReport*> all;
  for (const FailureReport& failure : report.failures) all.push_back(&failure);
  fmt::format_to(Out(out),
                 "<svg class=\"plot\" data-resource=\"failures\" width=\"{0}\" height=\"{1}\" "
                 "viewBox=\"0 {2} {0} {1}\">",
                 kWidth, kHeight - kBarsTop + 10, kBarsTop - 10);
  write_bars(out, report, all);
  write_time_axis(out, report);
  out += "</svg>\n";

  out += "<h2>Objects created and removed</h2>\n<table class=\"objects\">";
  row(out, {"kind", "created", "removed"}, "th");
  row(out, {"semaphore arrays", std::to_string(report.created.semaphore_arrays),
            std::to_string(report.removed.semaphore_arrays)});
  row(out,
      {"queues", std::to_string(report.created.queues), std::to_string(report.removed.queues)});
  row(out, {"segments", std::to_string(report.created.segments),
            std::to_string(report.removed.segments)});
  out += "</table>\n";
  if (per_process.recorded()) {
    out += "<h3>By process</h3>\n<table class=\"objects-by-process\">";
    row(out, {"kind", "process", "unit", "pids", "created", "removed"}, "th");
    for (const ObjectsByProcess& r : per_process.objects) {
      row(out,
          {std::string(kind_name(r.kind)), r.comm.value_or("unknown process"), r.unit.value_or("-"),
           pids_text(r.pids), std::to_string(r.created), std::to_string(r.removed)});
    }
    out += "</table>\n";
  }
  fmt::format_to(Out(out), "<h2>Leak suspects at the end ({})</h2>\n<table class=\"leaks\">",
                 report.leak_suspects.size());
  row(out, {"kind", "id", "key", "created", "created by", "why"}, "th");
  for (const StoredObject& stored : report.leak_suspects) {
    row(out, {std::string(kind_name(stored.object.kind)), std::to_string(stored.object.id),
              fmt::format("0x{:08x}", static_cast<std::uint32_t>(stored.object.key)),
              iso8601_utc(stored.created_ms), creator_text(stored.creator),
              stored.leak_reason.value_or("")});
  }
  fmt::format_to(Out(out), "</table>\n<h2>Fullest queues ({})</h2>\n<table class=\"queues\">",
                 report.fullest_queues.size());
  row(out,
      {"msqid", "key", "owner uid", "peak bytes", "peak at", "% of msgmnb", "end bytes",
       "end messages"},
      "th");
  for (const QueueReport& q : report.fullest_queues) {
    row(out, {q.msqid, q.key ? fmt::format("0x{:08x}", static_cast<std::uint32_t>(*q.key)) : "?",
              q.owner_uid ? std::to_string(*q.owner_uid) : "?", number_text(q.peak_bytes),
              iso8601_utc(q.peak_ms),
              q.capacity ? percent_text(q.peak_bytes * 100.0 / *q.capacity) : "-",
              number_text(q.end_bytes), number_text(q.end_messages)});
  }
  out += "</table>\n</body></html>\n";
  return out;
}

}  // namespace ipctrail
