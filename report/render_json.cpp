#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "model/ipc_objects.h"
#include "model/time_text.h"
#include "report/render.h"
#include "report/report_text.h"

namespace ipctrail {

namespace {

using Json = nlohmann::ordered_json;

// A time as the pair the contract uses everywhere: unix milliseconds and ISO-8601 text; both
// null when there is none.
void put_time(Json& object, const std::string& name, const std::optional<std::int64_t>& ts_ms) {
  object[name + "_ts"] = ts_ms ? Json(*ts_ms) : Json(nullptr);
  object[name + "_time"] = ts_ms ? Json(iso8601_utc(*ts_ms)) : Json(nullptr);
}

Json number(const std::optional<double>& value) {
  if (!value) return nullptr;
  if (std::floor(*value) == *value && std::fabs(*value) < 9e15) {
    return static_cast<std::int64_t>(*value);
  }
  return *value;
}

Json optional_text(const std::optional<std::string>& text) {
  return text ? Json(*text) : Json(nullptr);
}

// A process as the contract names it: {"pid", "process" (its comm), "unit", "text"}; null when
// not known.
Json process_json(const std::optional<ProcessRef>& process) {
  if (!process) return nullptr;
  return {{"pid", process->pid},
          {"process", process->comm},
          {"unit", optional_text(process->unit)},
          {"text", creator_text(process)}};
}

Json resource_json(const ResourceReport& r) {
  Json row = {{"id", r.id},
              {"title", r.title},
              {"units", r.units},
              {"limit_name", r.limit_name.empty() ? Json(nullptr) : Json(r.limit_name)},
              {"limit", number(r.limit)},
              {"start", number(r.start)},
              {"end", number(r.end)},
              {"peak", number(r.peak)}};
  put_time(row, "peak", r.peak_ms);
  row["peak_percent_of_limit"] = r.peak_percent ? Json(*r.peak_percent) : Json(nullptr);
  put_time(row, "limit_reached", r.limit_reached_ms);
  put_time(row, "growth_started", r.growth_started_ms);
  row["fastest_growth_per_minute"] = number(r.fastest_growth_per_minute);
  put_time(row, "fastest_growth", r.fastest_growth_ms);
  row["failures"] = r.failures;
  row["note"] = r.limit_note.empty() ? Json(nullptr) : Json(r.limit_note);
  return row;
}

}  // namespace

std::string render_json(const Report& report) {
  Json root;
  root["report_version"] = kReportJsonVersion;
  root["generator"] = std::string("ipctrail ") + IPCTRAIL_VERSION;
  root["file"] = report.file;
  root["namespace"] = report.ipc_namespace;
  Json window;
  put_time(window, "since", report.since_ms);
  put_time(window, "until", report.until_ms);
  root["window"] = window;

  Json coverage = {{"sampled_ms", report.coverage.sampled_ms},
                   {"window_ms", report.until_ms - report.since_ms}};
  coverage["spans"] = Json::array();
  for (const Span& span : report.coverage.spans) {
    Json row;
    put_time(row, "start", span.start_ms);
    put_time(row, "last", span.last_ms);
    row["interval_ms"] = span.interval_ms;
    coverage["spans"].push_back(row);
  }
  coverage["gaps"] = Json::array();
  for (const Gap& gap : report.coverage.gaps) {
    Json row;
    put_time(row, "from", gap.from_ms);
    put_time(row, "to", gap.to_ms);
    row["duration_ms"] = gap.to_ms - gap.from_ms;
    coverage["gaps"].push_back(row);
  }
  root["coverage"] = coverage;

  root["resources"] = Json::array();
  for (const ResourceReport& resource : report.resources) {
    root["resources"].push_back(resource_json(resource));
  }

  root["alert_transitions"] = Json::array();
  for (const TransitionReport& t : report.transitions) {
    Json row;
    put_time(row, "at", t.record.ts_ms);
    row["alert"] = t.record.alert;
    row["instance"] = t.record.instance;
    row["chart"] = t.record.chart;
    row["resource"] = t.resource.empty() ? Json(nullptr) : Json(t.resource);
    row["old_status"] = status_name(t.record.old_status);
    row["new_status"] = status_name(t.record.new_status);
    row["old_value"] = number(t.record.old_value);
    row["new_value"] = number(t.record.new_value);
    row["summary"] = t.record.summary;
    row["first_failure"] = t.first_failure.empty() ? Json(nullptr) : Json(t.first_failure);
    put_time(row, "first_failure", t.first_failure_ms);
    row["lead_ms"] = t.lead_ms ? Json(*t.lead_ms) : Json(nullptr);
    root["alert_transitions"].push_back(row);
  }
  root["alert_bands"] = Json::array();
  for (const AlertBand& band : report.bands) {
    Json row = {{"alert", band.alert},
                {"instance", band.instance},
                {"resource", band.resource.empty() ? Json(nullptr) : Json(band.resource)},
                {"status", status_name(band.status)}};
    put_time(row, "from", band.from_ms);
    put_time(row, "to", band.to_ms);
    root["alert_bands"].push_back(row);
  }

  root["failures_recorded"] = report.calls_recorded || !report.failures.empty();
  root["failures"] = Json::array();
  for (const FailureReport& f : report.failures) {
    Json row = {{"call", f.call}, {"errno", f.error}, {"count", f.count}};
    put_time(row, "first", f.first_ms);
    put_time(row, "last", f.last_ms);
    root["failures"].push_back(row);
  }
  const PerProcess& per_process = report.per_process;
  root["per_process"] = {
      {"recorded", per_process.recorded()},
      {"note", attribution_note(per_process.missing)},
      {"missing", per_process.missing == AttributionMissing::kNone      ? Json(nullptr)
                  : per_process.missing == AttributionMissing::kNotKept ? Json("not_kept")
                                                                        : Json("bpf_off")},
      {"calls_not_attributed", per_process.calls_not_attributed},
      {"events_lost", per_process.events_lost}};
  root["failures_by_process"] = Json::array();
  for (const ProcessCallTotal& f : per_process.failures) {
    Json row = {{"process", f.comm}, {"unit", optional_text(f.unit)},   {"pids", f.pids},
                {"call", f.call},    {"errno", optional_text(f.error)}, {"count", f.count}};
    put_time(row, "first", f.first_ms);
    put_time(row, "last", f.last_ms);
    root["failures_by_process"].push_back(row);
  }

  auto counts = [](const KindCounts& c) {
    return Json{{"sem", c.semaphore_arrays}, {"msg", c.queues}, {"shm", c.segments}};
  };
  root["objects"] = {{"created", counts(report.created)},
                     {"removed", counts(report.removed)},
                     {"by_process", Json::array()}};
  for (const ObjectsByProcess& row : per_process.objects) {
    root["objects"]["by_process"].push_back({{"kind", kind_name(row.kind)},
                                             {"process", optional_text(row.comm)},
                                             {"unit", optional_text(row.unit)},
                                             {"pids", row.pids},
                                             {"created", row.created},
                                             {"removed", row.removed}});
  }

  root["leak_suspects"] = Json::array();
  for (const StoredObject& stored : report.leak_suspects) {
    Json row = {{"kind", kind_name(stored.object.kind)},
                {"id", stored.object.id},
                {"key", stored.object.key},
                {"key_hex", fmt::format("0x{:08x}", static_cast<std::uint32_t>(stored.object.key))},
                {"uid", stored.object.uid},
                {"cpid", stored.object.kind == IpcKind::kSharedMemory ? Json(stored.object.cpid)
                                                                      : Json(nullptr)},
                {"creator", process_json(stored.creator)},
                {"reason", stored.leak_reason.value_or("")}};
    put_time(row, "created", stored.created_ms);
    root["leak_suspects"].push_back(row);
  }

  root["fullest_queues"] = Json::array();
  for (const QueueReport& q : report.fullest_queues) {
    Json row = {{"msqid", q.msqid},
                {"key", q.key ? Json(*q.key) : Json(nullptr)},
                {"owner_uid", q.owner_uid ? Json(*q.owner_uid) : Json(nullptr)},
                {"peak_bytes", number(q.peak_bytes)}};
    put_time(row, "peak", q.peak_ms);
    row["end_bytes"] = number(q.end_bytes);
    row["end_messages"] = number(q.end_messages);
    row["msgmnb"] = number(q.capacity);
    root["fullest_queues"].push_back(row);
  }

  const StillHappening& still = report.still_happening;
  Json happening = {{"answer", still.yes() ? "yes" : still.sampled ? "no" : "unknown"}};
  put_time(happening, "from", still.from_ms);
  happening["failing"] = Json::array();
  for (const auto& [failure, count] : still.failing) {
    happening["failing"].push_back({{"failure", failure}, {"count", count}});
  }
  happening["growing"] = still.growing;
  root["still_happening"] = happening;
  // A process name is whatever bytes a program put in its comm: invalid UTF-8 becomes U+FFFD
  // instead of making the report fail.
  return root.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace ipctrail
