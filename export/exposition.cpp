// The text exposition: metric names, types and help come from the chart table
// (model/chart_table.h), as does README.md's "Prometheus" table.
#include <fmt/format.h>

#include <charconv>
#include <initializer_list>
#include <map>
#include <unordered_map>
#include <utility>

#include "export/label_escape.h"
#include "export/prometheus.h"
#include "model/chart_table.h"

namespace ipctrail {

namespace {

// A metric's HELP text: its own, then the charts it comes from.
std::string_view help_of(const MetricSpec& metric) {
  static const std::unordered_map<std::string_view, std::string> texts = [] {
    std::unordered_map<std::string_view, std::string> texts;
    for (const MetricSpec* spec : kMetrics) {
      std::string charts;
      std::vector<const ChartSpec*> sources = charts_exporting(*spec);
      for (const ChartSpec* chart : sources) {
        charts += fmt::format("{}{}", charts.empty() ? "" : ", ", chart->id);
      }
      texts[spec->name] = sources.empty()
                              ? std::string(spec->help)
                              : fmt::format("{} {} {}.", spec->help,
                                            sources.size() == 1 ? "Chart" : "Charts", charts);
    }
    return texts;
  }();
  return texts.at(metric.name);
}

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

  void family(const MetricSpec& metric) {
    name_ = metric.name;
    type_ = metric.type;
    help_ = help_of(metric);
    header_written_ = false;
  }

  // Labels every following sample gets after its own: another namespace's (none for the own).
  void namespace_labels(std::span<const Label> labels) { namespace_labels_ = labels; }

  template <typename Number>
  void sample(std::initializer_list<Label> labels, Number value) {
    write_header();
    out_ += name_;
    char separator = '{';
    for (std::span<const Label> part :
         {std::span<const Label>(labels.begin(), labels.size()), namespace_labels_}) {
      for (const Label& label : part) {
        out_ += separator;
        out_ += label.name;
        out_ += "=\"";
        append_escaped_label_value(out_, label.value);
        out_ += '"';
        separator = ',';
      }
    }
    if (separator == ',') out_ += '}';
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
    char digits[32];  // the longest double, -1.2345678901234567e-308, is 24
    auto [end, error] = std::to_chars(std::begin(digits), std::end(digits), value);
    out_.append(digits, end);
  }

  std::string out_;
  std::string_view name_, type_, help_;
  bool header_written_ = false;
  std::span<const Label> namespace_labels_;
};

// A namespace's sample and the labels its series carry; each family writes every source's
// samples together, as the format wants a family's samples in one group.
struct Source {
  const Sample& sample;
  std::vector<Label> labels;
  std::string ipc_namespace;  // what a label views when it is not the input's own text
};

// Integer text for milliseconds, so that no float rounding shows in the timestamp.
std::string unix_seconds_text(std::int64_t unix_ms) {
  std::string sign = unix_ms < 0 ? "-" : "";
  std::uint64_t magnitude =
      unix_ms < 0 ? std::uint64_t(0) - static_cast<std::uint64_t>(unix_ms) : std::uint64_t(unix_ms);
  return fmt::format("{}{}.{:03}", sign, magnitude / 1000, magnitude % 1000);
}

// Calls `write(sample)` for each source with its labels in force, then leaves none in force.
template <typename Write>
void for_each_source(ExpositionWriter& out, std::span<const Source> sources, Write write) {
  for (const Source& source : sources) {
    out.namespace_labels(source.labels);
    write(source.sample);
  }
  out.namespace_labels({});
}

// Both per-queue families share the label text, formatted once per queue.
std::vector<std::pair<std::string, std::string>> queue_labels(const Sample& sample) {
  std::vector<std::pair<std::string, std::string>> labels;
  if (!sample.queues) return labels;
  labels.reserve(sample.queues->size());
  for (const MessageQueue& queue : *sample.queues) {
    labels.emplace_back(std::to_string(queue.msqid),
                        fmt::format("0x{:08x}", static_cast<std::uint32_t>(queue.key)));
  }
  return labels;
}

void write_charts(ExpositionWriter& out, std::span<const Source> sources) {
  out.family(metric::kSemaphores);
  for_each_source(out, sources, [&](const Sample& s) { out.sample_if(s.semaphores); });
  out.family(metric::kSemaphoreArrays);
  for_each_source(out, sources, [&](const Sample& s) { out.sample_if(s.semaphore_arrays); });

  std::vector<std::vector<std::pair<std::string, std::string>>> labels;
  for (const Source& source : sources) labels.push_back(queue_labels(source.sample));
  out.family(metric::kMessageQueues);
  for_each_source(out, sources, [&](const Sample& s) {
    if (s.queues) out.sample(s.queues->size());
  });
  for (const MetricSpec* family : {&metric::kQueueMessages, &metric::kQueueBytes}) {
    out.family(*family);
    std::size_t index = 0;
    for_each_source(out, sources, [&](const Sample& s) {
      const auto& names = labels[index++];
      for (std::size_t i = 0; i < names.size(); ++i) {
        const MessageQueue& queue = (*s.queues)[i];
        out.sample({{"msqid", names[i].first}, {"key", names[i].second}},
                   family == &metric::kQueueMessages ? queue.messages : queue.bytes);
      }
    });
  }

  out.family(metric::kShmSegments);
  for_each_source(out, sources, [&](const Sample& s) { out.sample_if(s.shm_segments); });
  out.family(metric::kShmBytes);
  for_each_source(out, sources, [&](const Sample& s) { out.sample_if(s.shm_bytes); });
  out.family(metric::kShmPages);
  for_each_source(out, sources, [&](const Sample& s) { out.sample_if(s.shm_pages); });

  out.family(metric::kLeakedObjects);
  for_each_source(out, sources, [&](const Sample& s) {
    if (!s.leak_suspects) return;
    for (IpcKind kind : kIpcKinds) {
      std::uint64_t suspects = 0;
      for (const LeakSuspect& suspect : *s.leak_suspects) suspects += suspect.kind == kind;
      out.sample({{"kind", kind_name(kind)}}, suspects);
    }
  });
}

void write_limits(ExpositionWriter& out, std::span<const Source> sources) {
  out.family(metric::kLimit);
  for_each_source(out, sources, [&](const Sample& s) {
    for (const NamedLimit& limit : named_limits(s.limits)) {
      if (limit.value) out.sample({{"name", limit.name}}, *limit.value);
    }
  });
}

void write_alerts(ExpositionWriter& out, std::span<const AlertStatusSeries> alerts) {
  for (const AlertStatusSeries& alert : alerts) {
    out.sample({{"alert", alert.alert}, {"chart", alert.chart}, {"alert_instance", alert.instance}},
               alert.status);
  }
}

// Every call of every namespace with counts always; a (call, errno) failure series appears once it
// has happened, since most of the 132 pairs never do. Another namespace's counts are its own
// since the agent first saw it (a counter that starts again with a new namespace incarnation).
void write_syscalls(ExpositionWriter& out, std::span<const Source> sources) {
  out.family(metric::kSyscalls);
  for_each_source(out, sources, [&](const Sample& sample) {
    if (!sample.ipc_calls) return;
    for (std::size_t call = 0; call < kIpcCallCount; ++call) {
      out.sample({{"call", kIpcCallNames[call]}}, sample.ipc_calls->totals.calls[call]);
    }
  });
  out.family(metric::kSyscallErrors);
  for_each_source(out, sources, [&](const Sample& sample) {
    if (!sample.ipc_calls) return;
    const IpcCallCounts& totals = sample.ipc_calls->totals;
    for (std::size_t call = 0; call < kIpcCallCount; ++call) {
      for (std::size_t error = 0; error < kErrnoClassCount; ++error) {
        if (totals.failures[call][error] == 0) continue;
        out.sample({{"call", kIpcCallNames[call]}, {"errno", kErrnoClassNames[error]}},
                   totals.failures[call][error]);
      }
    }
  });
}

// The programs' own health: one set for the host, whatever namespaces they count.
void write_bpf_health(ExpositionWriter& out, const IpcCallActivity& activity) {
  if (activity.syscall_tax) {
    out.family(metric::kBpfSyscallTax);
    out.sample({{"mode", activity.attach_mode}}, activity.syscall_tax->ratio());
  }
  // Always both, also at 0: a loss must show, and a series that appears late is easily missed.
  out.family(metric::kBpfCallsLost);
  out.sample({{"reason", "recursion"}}, activity.losses.recursion_misses);
  out.sample({{"reason", "namespace_map_full"}}, activity.losses.other_namespace_calls);
}

}  // namespace

namespace {

void write_up(ExpositionWriter& out, int up) {
  out.family(metric::kUp);
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
  std::vector<Source> sources{{input.sample, {}, {}}};
  std::map<std::pair<std::string_view, std::string_view>, int> label_uses;
  for (const NamespaceExposition& other : input.namespaces) {
    ++label_uses[{other.ipc_namespace, other.container}];
  }
  sources.reserve(1 + input.namespaces.size());  // labels view their sources' text
  for (const NamespaceExposition& other : input.namespaces) {
    series += 24 + other.alerts.size();
    Source& source = sources.emplace_back(Source{*other.sample, {}, {}});
    if (label_uses[{other.ipc_namespace, other.container}] == 1) {
      source.labels.push_back({"ipc_namespace", other.ipc_namespace});
    } else {
      source.ipc_namespace = fmt::format("{} ipc:[{}]", other.ipc_namespace, other.inode);
      source.labels.push_back({"ipc_namespace", source.ipc_namespace});
    }
    if (!other.container.empty()) source.labels.push_back({"container", other.container});
  }
  for (const Source& source : sources) {
    if (source.sample.queues) series += 2 * source.sample.queues->size();
  }
  for (const Source& source : sources) {
    if (source.sample.ipc_calls) series += kIpcCallCount * (1 + kErrnoClassCount);
  }
  ExpositionWriter out(3072 + 80 * series);
  write_up(out, 1);
  out.family(metric::kBuildInfo);
  out.sample({{"version", IPCTRAIL_VERSION}}, 1);
  out.family(metric::kLastSampleTimestamp);
  std::string timestamp = unix_seconds_text(input.sample.ts_ms);
  out.sample(std::string_view(timestamp));
  out.family(metric::kProcfsSkippedLines);
  out.sample(input.sample.skipped_lines);
  write_charts(out, sources);
  write_limits(out, sources);
  out.family(metric::kAlertStatus);
  write_alerts(out, input.alerts);
  for (std::size_t i = 0; i < input.namespaces.size(); ++i) {
    out.namespace_labels(sources[i + 1].labels);
    write_alerts(out, input.namespaces[i].alerts);
  }
  out.namespace_labels({});
  if (input.sample.ipc_calls) {
    write_syscalls(out, sources);
    write_bpf_health(out, *input.sample.ipc_calls);
  }
  return out.take_text();
}

}  // namespace ipctrail
