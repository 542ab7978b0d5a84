// The text exposition: metric names and their chart ids are listed in README.md ("Prometheus").
#include <fmt/format.h>

#include <charconv>
#include <initializer_list>

#include "export/label_escape.h"
#include "export/prometheus.h"

namespace ipctrail {

namespace {

struct Label {
  std::string_view name;
  std::string_view value;
};

// Writes families in order; a family's HELP and TYPE lines appear once, before its first sample,
// and not at all when it gets none.
class ExpositionWriter {
 public:
  // One allocation up front: growing a large string page by page is mostly page faults.
  explicit ExpositionWriter(std::size_t expected_bytes) { out_.reserve(expected_bytes); }

  void family(std::string_view name, std::string_view type, std::string_view help) {
    name_ = name;
    type_ = type;
    help_ = help;
    header_written_ = false;
  }

  template <typename Number>
  void sample(std::initializer_list<Label> labels, Number value) {
    write_header();
    out_ += name_;
    if (labels.size() > 0) {
      char separator = '{';
      for (const Label& label : labels) {
        out_ += separator;
        out_ += label.name;
        out_ += "=\"";
        append_escaped_label_value(out_, label.value);
        out_ += '"';
        separator = ',';
      }
      out_ += '}';
    }
    out_ += ' ';
    append_value(value);
    out_ += '\n';
  }

  template <typename Number>
  void sample(Number value) {
    sample({}, value);
  }

  template <typename Number>
  void sample_if(const std::optional<Number>& value) {
    if (value) sample(*value);
  }

  std::string take_text() { return std::move(out_); }

 private:
  void write_header() {
    if (header_written_) return;
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name_, help_, name_,
                   type_);
    header_written_ = true;
  }

  void append_value(std::string_view text) { out_ += text; }
  template <typename Integer>
  void append_value(Integer value) {
    char digits[24];
    auto [end, error] = std::to_chars(std::begin(digits), std::end(digits), value);
    out_.append(digits, end);
  }

  std::string out_;
  std::string_view name_, type_, help_;
  bool header_written_ = false;
};

// Integer text for milliseconds, so that no float rounding shows in the timestamp.
std::string unix_seconds_text(std::int64_t unix_ms) {
  std::string sign = unix_ms < 0 ? "-" : "";
  std::uint64_t magnitude =
      unix_ms < 0 ? std::uint64_t(0) - static_cast<std::uint64_t>(unix_ms) : std::uint64_t(unix_ms);
  return fmt::format("{}{}.{:03}", sign, magnitude / 1000, magnitude % 1000);
}

void write_charts(ExpositionWriter& out, const Sample& sample) {
  out.family("ipctrail_semaphores", "gauge",
             "Semaphores allocated system wide (seminfo.semaem); chart system.ipc_semaphores.");
  out.sample_if(sample.semaphores);
  out.family("ipctrail_semaphore_arrays", "gauge",
             "Semaphore arrays in use (seminfo.semusz); chart system.ipc_semaphore_arrays.");
  out.sample_if(sample.semaphore_arrays);

  if (sample.queues) {
    out.family("ipctrail_message_queues", "gauge", "Message queues in use, compared with msgmni.");
    out.sample(sample.queues->size());
    // Both per-queue families share the label text, formatted once per queue.
    std::vector<std::pair<std::string, std::string>> labels;
    labels.reserve(sample.queues->size());
    for (const MessageQueue& queue : *sample.queues) {
      labels.emplace_back(std::to_string(queue.msqid),
                          fmt::format("0x{:08x}", static_cast<std::uint32_t>(queue.key)));
    }
    out.family("ipctrail_message_queue_messages", "gauge",
               "Messages queued (qnum) per queue; chart system.message_queue_message.");
    for (std::size_t i = 0; i < labels.size(); ++i) {
      out.sample({{"msqid", labels[i].first}, {"key", labels[i].second}},
                 (*sample.queues)[i].messages);
    }
    out.family("ipctrail_message_queue_bytes", "gauge",
               "Bytes queued (cbytes) per queue; chart system.message_queue_bytes.");
    for (std::size_t i = 0; i < labels.size(); ++i) {
      out.sample({{"msqid", labels[i].first}, {"key", labels[i].second}},
                 (*sample.queues)[i].bytes);
    }
  }

  out.family("ipctrail_shared_memory_segments", "gauge",
             "Shared memory segments; chart system.shared_memory_segments.");
  out.sample_if(sample.shm_segments);
  out.family("ipctrail_shared_memory_bytes", "gauge",
             "Sum of shared memory segment sizes in bytes; chart system.shared_memory_bytes.");
  out.sample_if(sample.shm_bytes);
  out.family("ipctrail_shared_memory_pages", "gauge",
             "Shared memory segment sizes rounded up to pages, compared with shmall.");
  out.sample_if(sample.shm_pages);

  if (sample.leak_suspects) {
    out.family("ipctrail_leaked_objects", "gauge",
               "IPC objects the leak rules suspect, by kind (sem, msg, shm); see the README.");
    for (IpcKind kind : kIpcKinds) {
      std::uint64_t suspects = 0;
      for (const LeakSuspect& suspect : *sample.leak_suspects) suspects += suspect.kind == kind;
      out.sample({{"kind", kind_name(kind)}}, suspects);
    }
  }
}

void write_limits(ExpositionWriter& out, const Limits& limits) {
  out.family("ipctrail_limit", "gauge",
             "Kernel System V IPC limit of the namespace, as the kernel states it (shmall in "
             "pages, msgmnb, msgmax and shmmax in bytes, the others in counts).");
  for (const NamedLimit& limit : named_limits(limits)) {
    if (limit.value) out.sample({{"name", limit.name}}, *limit.value);
  }
}

void write_alerts(ExpositionWriter& out, std::span<const AlertStatusSeries> alerts) {
  out.family("ipctrail_alert_status", "gauge",
             "Alert status: -2 removed, -1 undefined, 0 uninitialized, 1 clear, 2 raised, "
             "3 warning, 4 critical.");
  for (const AlertStatusSeries& alert : alerts) {
    out.sample({{"alert", alert.alert}, {"chart", alert.chart}, {"alert_instance", alert.instance}},
               alert.status);
  }
}

// Every call always; a (call, errno) failure series appears once it has happened, since most of
// the 132 pairs never do.
void write_syscalls(ExpositionWriter& out, const IpcCallCounts& totals) {
  out.family("ipctrail_syscalls_total", "counter",
             "System V IPC system calls counted by the BPF programs since they were attached.");
  for (std::size_t call = 0; call < kIpcCallCount; ++call) {
    out.sample({{"call", kIpcCallNames[call]}}, totals.calls[call]);
  }
  out.family("ipctrail_syscall_errors_total", "counter",
             "System V IPC system calls that failed, by errno, since the BPF programs were "
             "attached.");
  for (std::size_t call = 0; call < kIpcCallCount; ++call) {
    for (std::size_t error = 0; error < kErrnoClassCount; ++error) {
      if (totals.failures[call][error] == 0) continue;
      out.sample({{"call", kIpcCallNames[call]}, {"errno", kErrnoClassNames[error]}},
                 totals.failures[call][error]);
    }
  }
}

}  // namespace

namespace {

void write_up(ExpositionWriter& out, int up) {
  out.family("ipctrail_up", "gauge",
             "1 when this exposition comes from a collection, 0 before the first one.");
  out.sample(up);
}

}  // namespace

std::string render_not_ready_exposition() {
  ExpositionWriter out(256);
  write_up(out, 0);
  return out.take_text();
}

std::string render_exposition(const ExpositionInput& input) {
  // About 65 bytes per labelled line; the unlabelled families and their help fit in 3 KiB.
  std::size_t series = input.alerts.size();
  if (input.sample.queues) series += 2 * input.sample.queues->size();
  if (input.sample.ipc_calls) series += kIpcCallCount * (1 + kErrnoClassCount);
  ExpositionWriter out(3072 + 80 * series);
  write_up(out, 1);
  out.family("ipctrail_build_info", "gauge", "Always 1; the version label says which ipctrail.");
  out.sample({{"version", IPCTRAIL_VERSION}}, 1);
  out.family("ipctrail_last_sample_timestamp_seconds", "gauge",
             "Unix time of the collection this exposition shows.");
  std::string timestamp = unix_seconds_text(input.sample.ts_ms);
  out.sample(std::string_view(timestamp));
  out.family("ipctrail_procfs_skipped_lines", "gauge",
             "Malformed or truncated /proc/sysvipc lines skipped in the last collection.");
  out.sample(input.sample.skipped_lines);
  write_charts(out, input.sample);
  write_limits(out, input.sample.limits);
  write_alerts(out, input.alerts);
  if (input.sample.ipc_calls) write_syscalls(out, input.sample.ipc_calls->totals);
  return out.take_text();
}

}  // namespace ipctrail
