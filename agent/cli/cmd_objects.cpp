// `ipctrail objects`: the IPC object inventory as it was at a moment (like `ipcs -a` then), or the
// lifecycle log of a time range, from the history file.
#include <fmt/format.h>
#include <pwd.h>

#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "agent/cli/commands.h"
#include "agent/cli/csv_field.h"
#include "model/time_parse.h"
#include "model/time_text.h"
#include "report/process_text.h"
#include "storage/history_file_error.h"
#include "storage/history_reader.h"

namespace ipctrail {

namespace {

struct ObjectsOptions {
  std::string db = "/var/lib/ipctrail/history.db";
  std::string namespace_choice = kHostNamespace;
  std::string at = "now";
  std::optional<std::string> kind;
  bool events = false;
  bool leaked = false;
  std::string since = "-24h";
  std::string until = "now";
  std::string format = "table";
};

std::string key_hex(std::int32_t key) {
  return fmt::format("0x{:08x}", static_cast<std::uint32_t>(key));
}

// The user's name where this host knows it, as ipcs prints it; the number otherwise.
const std::string& user_name(std::uint32_t uid) {
  static std::map<std::uint32_t, std::string> names;
  auto [entry, added] = names.try_emplace(uid);
  if (added) {
    passwd entry_buffer{};
    passwd* found = nullptr;
    std::string buffer(4096, '\0');
    ::getpwuid_r(uid, &entry_buffer, buffer.data(), buffer.size(), &found);
    entry->second = found != nullptr ? found->pw_name : std::to_string(uid);
  }
  return entry->second;
}

// "512B", "9.8KiB", "1.0GiB".
std::string human_size(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return fmt::format("{}B", bytes);
  auto value = static_cast<double>(bytes);
  std::size_t unit = 0;
  for (value /= 1024; value >= 1024 && unit + 1 < std::size(kUnits); value /= 1024) ++unit;
  return fmt::format("{:.1f}{}", value, kUnits[unit]);
}

// "3d4h", "2h5m", "4m10s", "12s".
std::string age_text(std::int64_t ms) {
  std::int64_t s = std::max<std::int64_t>(ms, 0) / 1000;
  if (s >= 86400) return fmt::format("{}d{}h", s / 86400, s % 86400 / 3600);
  if (s >= 3600) return fmt::format("{}h{}m", s / 3600, s % 3600 / 60);
  if (s >= 60) return fmt::format("{}m{}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string perms(std::uint32_t mode) {
  return fmt::format("{:o}", mode & 0777);
}

// Segments marked for removal (SHM_DEST) still attached, and locked ones, as ipcs shows them.
std::string shm_status(std::uint32_t mode) {
  std::string status;
  if (mode & 01000) status += "dest";
  if (mode & 02000) status += status.empty() ? "locked" : " locked";
  return status;
}

// The inventory at the namespace maximum is some 68,000 lines: they are formatted into one buffer
// and written at once (`objects --at` under 1 s there, bench/objects_bench.cpp).
void print_table(std::int64_t at, const std::vector<const StoredObject*>& objects,
                 const std::vector<IpcKind>& kinds) {
  fmt::memory_buffer out;
  fmt::format_to(std::back_inserter(out), "IPC objects at {}\n", iso8601_utc(at));
  for (IpcKind kind : kinds) {
    out.push_back('\n');
    if (kind == IpcKind::kQueue) {
      out.append(std::string_view("------ Message Queues --------\n"));
      fmt::format_to(std::back_inserter(out),
                     "{:<10} {:<10} {:<10} {:<6} {:>10} {:>10} {:>8} {:>7} {:>7}  {:<24} {:<7} "
                     "{}\n",
                     "key", "msqid", "owner", "perms", "used-bytes", "qbytes", "messages", "lspid",
                     "lrpid", "created", "age", "created by");
    } else if (kind == IpcKind::kSharedMemory) {
      out.append(std::string_view("------ Shared Memory Segments --------\n"));
      fmt::format_to(std::back_inserter(out),
                     "{:<10} {:<10} {:<10} {:<6} {:>10} {:>6} {:>7} {:>7} {:<6}  {:<24} {:<7} {}\n",
                     "key", "shmid", "owner", "perms", "bytes", "nattch", "cpid", "lpid", "status",
                     "created", "age", "created by");
    } else {
      out.append(std::string_view("------ Semaphore Arrays --------\n"));
      fmt::format_to(std::back_inserter(out),
                     "{:<10} {:<10} {:<10} {:<6} {:>6}  {:<24} {:<24} {:<7} {}\n", "key", "semid",
                     "owner", "perms", "nsems", "last semop (to the minute)", "created", "age",
                     "created by");
    }
    for (const StoredObject* row : objects) {
      const StoredObject& stored = *row;
      const IpcObject& o = stored.object;
      if (o.kind != kind) continue;
      std::string created = iso8601_utc(stored.created_ms);
      std::string age = age_text(at - stored.created_ms);
      std::string creator = stored.creator ? process_text(*stored.creator) : "-";
      if (kind == IpcKind::kQueue) {
        std::string qbytes = o.qbytes ? std::to_string(*o.qbytes) : "-";
        fmt::format_to(
            std::back_inserter(out),
            "{:<10} {:<10} {:<10} {:<6} {:>10} {:>10} {:>8} {:>7} {:>7}  {:<24} {:<7} {}\n",
            key_hex(o.key), o.id, user_name(o.uid), perms(o.mode), o.cbytes, qbytes, o.qnum,
            o.lspid, o.lrpid, created, age, creator);
      } else if (kind == IpcKind::kSharedMemory) {
        fmt::format_to(
            std::back_inserter(out),
            "{:<10} {:<10} {:<10} {:<6} {:>10} {:>6} {:>7} {:>7} {:<6}  {:<24} {:<7} {}\n",
            key_hex(o.key), o.id, user_name(o.uid), perms(o.mode), human_size(o.size), o.nattch,
            o.cpid, o.lpid, shm_status(o.mode), created, age, creator);
      } else {
        std::string otime = o.otime == 0 ? "never" : iso8601_utc(o.otime * 1000);
        fmt::format_to(std::back_inserter(out),
                       "{:<10} {:<10} {:<10} {:<6} {:>6}  {:<26} {:<24} {:<7} {}\n", key_hex(o.key),
                       o.id, user_name(o.uid), perms(o.mode), o.size, otime, created, age, creator);
      }
    }
  }
  std::cout.write(out.data(), static_cast<std::streamsize>(out.size()));
}

nlohmann::json process_json(const ProcessRef& process) {
  return {{"pid", process.pid},
          {"comm", process.comm},
          {"unit", process.unit ? nlohmann::json(*process.unit) : nlohmann::json()},
          {"text", process_text(process)}};
}

// The CSV columns of a process: pid, comm, unit; empty when not known.
std::string process_csv(const std::optional<ProcessRef>& process) {
  if (!process) return ",,";
  return fmt::format("{},{},{}", process->pid, csv_field(process->comm),
                     csv_field(process->unit.value_or("")));
}

// A JSON string, escaped as nlohmann::json writes it.
std::string json_text(const std::string& text) {
  return nlohmann::json(text).dump();
}

// One object of `objects --at --format json`, written straight into `out`: building a JSON tree
// of 68,000 objects first took seconds (bench/objects_bench.cpp).
void write_object_json(fmt::memory_buffer& out, std::int64_t at, const StoredObject& stored) {
  const IpcObject& o = stored.object;
  auto to = std::back_inserter(out);
  fmt::format_to(
      to,
      "{{\"kind\":\"{}\",\"id\":{},\"key\":{},\"key_hex\":\"{}\",\"uid\":{},\"owner\":{},"
      "\"gid\":{},\"cuid\":{},\"cgid\":{},\"perms\":\"{}\",\"mode\":{},\"created_ts\":{},"
      "\"created_time\":\"{}\",\"age_s\":{},\"first_seen_ts\":{},\"incarnation\":{}",
      kind_name(o.kind), o.id, o.key, key_hex(o.key), o.uid, json_text(user_name(o.uid)), o.gid,
      o.cuid, o.cgid, perms(o.mode), o.mode, stored.created_ms, iso8601_utc(stored.created_ms),
      std::max<std::int64_t>(at - stored.created_ms, 0) / 1000, stored.first_seen_ms,
      stored.incarnation);
  if (stored.leak_reason) fmt::format_to(to, ",\"leak_reason\":{}", json_text(*stored.leak_reason));
  if (stored.creator) fmt::format_to(to, ",\"creator\":{}", process_json(*stored.creator).dump());
  if (stored.remover) fmt::format_to(to, ",\"remover\":{}", process_json(*stored.remover).dump());
  if (o.kind == IpcKind::kSemaphore) {
    fmt::format_to(to, ",\"nsems\":{},\"otime\":{}}}", o.size, o.otime);
  } else if (o.kind == IpcKind::kQueue) {
    fmt::format_to(to,
                   ",\"messages\":{},\"bytes\":{},\"qbytes\":{},\"lspid\":{},\"lrpid\":{},"
                   "\"stime\":{},\"rtime\":{}}}",
                   o.qnum, o.cbytes, o.qbytes ? std::to_string(*o.qbytes) : "null", o.lspid,
                   o.lrpid, o.stime, o.rtime);
  } else {
    fmt::format_to(to,
                   ",\"size\":{},\"nattch\":{},\"cpid\":{},\"lpid\":{},\"atime\":{},"
                   "\"dtime\":{}}}",
                   o.size, o.nattch, o.cpid, o.lpid, o.atime, o.dtime);
  }
}

void print_json(std::int64_t at, const std::vector<const StoredObject*>& objects) {
  fmt::memory_buffer out;
  fmt::format_to(std::back_inserter(out), "{{\"at\":{},\"time\":\"{}\",\"objects\":[", at,
                 iso8601_utc(at));
  for (std::size_t i = 0; i < objects.size(); ++i) {
    if (i != 0) out.push_back(',');
    write_object_json(out, at, *objects[i]);
  }
  out.append(std::string_view("]}\n"));
  std::cout.write(out.data(), static_cast<std::streamsize>(out.size()));
}

void print_csv(std::int64_t at, const std::vector<const StoredObject*>& objects) {
  std::cout << "kind,id,key,key_hex,uid,owner,gid,cuid,cgid,perms,size,nattch,cpid,lpid,messages,"
               "bytes,qbytes,lspid,lrpid,created_ts,created_time,age_s,incarnation,leak_reason,"
               "creator_pid,creator_comm,creator_unit\n";
  for (const StoredObject* row : objects) {
    const StoredObject& stored = *row;
    const IpcObject& o = stored.object;
    bool shm = o.kind == IpcKind::kSharedMemory;
    bool msg = o.kind == IpcKind::kQueue;
    auto only = [](bool has, auto value) { return has ? fmt::format("{}", value) : std::string(); };
    std::cout << fmt::format(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
        kind_name(o.kind), o.id, o.key, key_hex(o.key), o.uid, csv_field(user_name(o.uid)), o.gid,
        o.cuid, o.cgid, perms(o.mode), only(!msg, o.size), only(shm, o.nattch), only(shm, o.cpid),
        only(shm, o.lpid), only(msg, o.qnum), only(msg, o.cbytes),
        only(msg && o.qbytes, o.qbytes.value_or(0)), only(msg, o.lspid), only(msg, o.lrpid),
        stored.created_ms, iso8601_utc(stored.created_ms),
        std::max<std::int64_t>(at - stored.created_ms, 0) / 1000, stored.incarnation,
        csv_field(stored.leak_reason.value_or("")), process_csv(stored.creator));
  }
}

void print_events(const std::vector<ObjectEvent>& events, const std::string& format) {
  if (format == "json") {
    nlohmann::json rows = nlohmann::json::array();
    for (const ObjectEvent& e : events) {
      rows.push_back({{"ts", e.ts_ms},
                      {"time", iso8601_utc(e.ts_ms)},
                      {"kind", kind_name(e.kind)},
                      {"id", e.id},
                      {"key", e.key},
                      {"key_hex", key_hex(e.key)},
                      {"event", e.event},
                      {"details", e.details},
                      {"incarnation", e.incarnation}});
      if (e.process) rows.back()["process"] = process_json(*e.process);
    }
    std::cout << nlohmann::json{{"events", std::move(rows)}}.dump() << '\n';
  } else if (format == "csv") {
    std::cout << "ts,time,kind,id,key,key_hex,event,details,incarnation,pid,comm,unit\n";
    for (const ObjectEvent& e : events) {
      std::cout << fmt::format("{},{},{},{},{},{},{},{},{},{}\n", e.ts_ms, iso8601_utc(e.ts_ms),
                               kind_name(e.kind), e.id, e.key, key_hex(e.key), e.event,
                               csv_field(e.details), e.incarnation, process_csv(e.process));
    }
  } else {
    std::cout << fmt::format("{:<24}  {:<4} {:<10} {:<10} {:<13} {}\n", "time", "kind", "id", "key",
                             "event", "details");
    for (const ObjectEvent& e : events) {
      std::string details = e.details;
      // "created by apache2 (pid 4711, apache2.service)", "removed by systemd-logind (pid 612)".
      if (e.process) details += fmt::format("; {} by {}", e.event, process_text(*e.process));
      std::cout << fmt::format("{:<24}  {:<4} {:<10} {:<10} {:<13} {}\n", iso8601_utc(e.ts_ms),
                               kind_name(e.kind), e.id, key_hex(e.key), e.event, details);
    }
  }
}

int run_objects(const ObjectsOptions& options) {
  std::int64_t now = unix_now_ms();
  std::optional<IpcKind> only_kind;
  if (options.kind) only_kind = kind_from_name(*options.kind);
  // ipcs -a order.
  std::vector<IpcKind> kinds = {IpcKind::kQueue, IpcKind::kSharedMemory, IpcKind::kSemaphore};
  if (only_kind) kinds = {*only_kind};

  if (options.events) {
    std::int64_t since = parse_time(options.since, now);
    std::int64_t until = parse_time(options.until, now);
    HistoryReader reader(options.db, options.namespace_choice);
    std::vector<ObjectEvent> events = reader.object_events(since, until);
    if (only_kind)
      std::erase_if(events, [&](const ObjectEvent& e) { return e.kind != *only_kind; });
    print_events(events, options.format);
    return kExitOk;
  }

  std::int64_t at = parse_time(options.at, now);
  HistoryReader reader(options.db, options.namespace_choice);
  std::vector<StoredObject> objects = reader.objects_at(at);
  if (options.leaked) {
    std::erase_if(objects, [](const StoredObject& stored) { return !stored.leak_reason; });
  }
  std::vector<const StoredObject*> ordered;
  ordered.reserve(objects.size());
  for (IpcKind kind : kinds) {
    for (const StoredObject& stored : objects) {
      if (stored.object.kind == kind) ordered.push_back(&stored);
    }
  }
  if (options.format == "json") {
    print_json(at, ordered);
  } else if (options.format == "csv") {
    print_csv(at, ordered);
  } else {
    print_table(at, ordered, kinds);
    if (options.leaked) {
      std::cout << "\nWhy:\n";
      for (const StoredObject* stored : ordered) {
        std::cout << fmt::format("{} {} {}: {}\n", kind_name(stored->object.kind),
                                 stored->object.id, key_hex(stored->object.key),
                                 *stored->leak_reason);
      }
    }
  }
  return kExitOk;
}

}  // namespace

void add_objects_command(CLI::App& app, CommandAction& run) {
  auto options = std::make_shared<ObjectsOptions>();
  CLI::App* command = app.add_subcommand(
      "objects", "Print every IPC object as it was at a moment (like ipcs -a), or their lifecycle");
  command->add_option("--db", options->db, "History file")->capture_default_str();
  add_namespace_option(*command, options->namespace_choice);
  CLI::Option* at =
      command->add_option("--at", options->at, "When: now, -1h, 2026-11-26T03:00:00Z, ...")
          ->capture_default_str();
  command->add_option("--kind", options->kind, "Only sem, msg or shm")
      ->check(CLI::IsMember({"sem", "msg", "shm"}));
  CLI::Option* events =
      command
          ->add_flag("--events", options->events,
                     "Instead, the lifecycle log: created, removed, owner_changed, mode_changed")
          ->excludes(at);
  command
      ->add_flag("--leaked", options->leaked,
                 "Only the leak suspects then (the rules of the README's Leak suspects)")
      ->excludes(events);
  command->add_option("--since", options->since, "With --events: from")
      ->capture_default_str()
      ->needs(events);
  command->add_option("--until", options->until, "With --events: to")
      ->capture_default_str()
      ->needs(events);
  command->add_option("--format", options->format, "table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  command->callback([&run, options] {
    run = [options] {
      return run_history_command("objects", [options] { return run_objects(*options); });
    };
  });
}

}  // namespace ipctrail
