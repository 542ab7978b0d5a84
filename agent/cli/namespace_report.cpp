#include "agent/cli/namespace_report.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "agent/cli/report.h"
#include "model/time_text.h"

namespace ipctrail {

namespace {

using Json = nlohmann::ordered_json;

// Owner names come from cgroup paths, which need not be UTF-8: replaced, never a throw.
std::string dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Json identity(const IpcNamespaceRef& ref, const NamespaceOwner& owner) {
  Json json;
  json["inode"] = ref.inode;
  json["label"] = namespace_label(ref, owner);
  json["owner"] = {{"kind", owner.kind}, {"name", owner.name}};
  if (!owner.container_id.empty()) json["owner"]["container_id"] = owner.container_id;
  if (!owner.pod_uid.empty()) json["owner"]["pod_uid"] = owner.pod_uid;
  json["pid"] = ref.pids.empty() ? Json(nullptr) : Json(ref.pids.front());
  json["processes"] = ref.processes;
  json["own"] = ref.own;
  return json;
}

Json optional_number(const std::optional<std::uint64_t>& value) {
  return value ? Json(*value) : Json(nullptr);
}

std::optional<std::uint64_t> queue_count(const Sample& sample) {
  if (!sample.queues) return std::nullopt;
  return sample.queues->size();
}

Json summary(const Sample& sample) {
  const Limits& limits = sample.limits;
  return Json{{"arrays", optional_number(sample.semaphore_arrays)},
              {"semmni", optional_number(limits.semmni)},
              {"semaphores", optional_number(sample.semaphores)},
              {"semmns", optional_number(limits.semmns)},
              {"queues", optional_number(queue_count(sample))},
              {"msgmni", optional_number(limits.msgmni)},
              {"segments", optional_number(sample.shm_segments)},
              {"shmmni", optional_number(limits.shmmni)},
              {"shm_pages", optional_number(sample.shm_pages)},
              {"shmall", optional_number(limits.shmall)}};
}

// The document around the namespaces; `each` writes one namespace's entry after its identity.
template <typename Each>
std::string report_json(const NamespaceReport& report, Each each) {
  std::string out = fmt::format("{{\"ts\":{},\"time\":\"{}\",\"namespaces\":[", report.ts_ms,
                                iso8601_utc(report.ts_ms));
  const char* separator = "";
  for (const SampledNamespace& sampled : report.namespaces) {
    std::string entry = dump(identity(sampled.ref, sampled.owner));
    entry.pop_back();  // the identity's closing brace: the entry goes on
    out += separator;
    separator = ",";
    out += entry;
    if (sampled.result.sample) {
      each(out, *sampled.result.sample);
    } else {
      out += ",\"error\":" + dump(sampled.result.error);
    }
    out += '}';
  }
  fmt::format_to(std::back_inserter(out),
                 "],\"processes_scanned\":{},\"processes_denied\":{},\"incomplete\":{}}}",
                 report.processes_scanned, report.processes_denied,
                 report.shortfall.empty() ? "null" : dump(report.shortfall));
  return out;
}

std::string used_of(const std::optional<std::uint64_t>& used,
                    const std::optional<std::uint64_t>& limit) {
  std::string limit_text = !limit                 ? "n/a"
                           : is_unlimited(*limit) ? "unlimited"
                                                  : fmt::format("{}", *limit);
  return fmt::format("{}/{}", used ? fmt::format("{}", *used) : "n/a", limit_text);
}

}  // namespace

std::string namespace_identity_json(const IpcNamespaceRef& ref, const NamespaceOwner& owner) {
  return dump(identity(ref, owner));
}

std::string namespace_list_json(const NamespaceReport& report) {
  return report_json(report, [](std::string& out, const Sample& sample) {
    out += ",\"summary\":" + dump(summary(sample));
  });
}

std::string namespaces_json(const NamespaceReport& report) {
  return report_json(report, [](std::string& out, const Sample& sample) {
    out += ",\"sample\":" + sample_to_json(sample);
  });
}

std::string namespace_heading(const SampledNamespace& sampled) {
  std::string heading = fmt::format("IPC namespace ipc:[{}] ({})", sampled.ref.inode,
                                    namespace_label(sampled.ref, sampled.owner));
  if (sampled.ref.own) return heading + ", the one ipctrail runs in";
  if (!sampled.ref.pids.empty()) heading += fmt::format(", pid {}", sampled.ref.pids.front());
  return heading;
}

std::string namespace_list_table(const NamespaceReport& report) {
  std::string out =
      fmt::format("IPC namespaces at {}: {} (from {} processes)\n\n", iso8601_utc(report.ts_ms),
                  report.namespaces.size(), report.processes_scanned);
  out += fmt::format("  {:>12}  {:<24} {:>8} {:>9}  {:<16} {:<22} {:<16} {:<16}\n", "inode",
                     "owner", "pid", "processes", "arrays", "semaphores", "queues", "segments");
  for (const SampledNamespace& sampled : report.namespaces) {
    const IpcNamespaceRef& ref = sampled.ref;
    std::string pid = ref.pids.empty() ? "-" : fmt::format("{}", ref.pids.front());
    std::string line = fmt::format("  {:>12}  {:<24} {:>8} {:>9}  ", ref.inode,
                                   namespace_label(ref, sampled.owner), pid, ref.processes);
    if (const auto& sample = sampled.result.sample) {
      line += fmt::format("{:<16} {:<22} {:<16} {:<16}",
                          used_of(sample->semaphore_arrays, sample->limits.semmni),
                          used_of(sample->semaphores, sample->limits.semmns),
                          used_of(queue_count(*sample), sample->limits.msgmni),
                          used_of(sample->shm_segments, sample->limits.shmmni));
    } else {
      line += "not sampled: " + sampled.result.error;
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + '\n';
  }
  return out;
}

std::string namespaces_table(const NamespaceReport& report) {
  std::string out;
  for (const SampledNamespace& sampled : report.namespaces) {
    if (!out.empty()) out += '\n';
    out += "== " + namespace_heading(sampled) + '\n';
    if (sampled.result.sample) {
      out += sample_to_table(*sampled.result.sample);
    } else {
      out += "not sampled: " + sampled.result.error + '\n';
    }
  }
  return out;
}

}  // namespace ipctrail
