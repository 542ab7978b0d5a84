// The chart table: the one place that states every chart ipctrail produces — its id, units and
// dimensions, Netdata's metadata for it (title, family, context, chart type, priority), the
// Prometheus metrics exported from it, and the other names it answers to. charts_of(), the
// exposition, the alert rules, the history file's `charts` table and README.md's tables all
// follow it (tests/unit/chart_table_test.cpp checks the README against it, both ways).
//
// Netdata's metadata is Netdata 1.37.1's own where Netdata has the chart (proc.plugin `ipc`
// module, and ebpf.plugin's `system.shared_memory_calls`; sources in docs/design.md §2); the
// charts only ipctrail has get metadata of ours, in Netdata's style, next in priority.
#pragma once

#include <array>
#include <string_view>
#include <vector>

namespace ipctrail {

// Netdata's chart types, by Netdata's own words ("line", "area", "stacked").
enum class ChartType { kLine, kArea, kStacked };
std::string_view chart_type_name(ChartType type);

// One Prometheus metric family of the exposition.
struct MetricSpec {
  std::string_view name;  // "ipctrail_semaphores"
  std::string_view type;  // "gauge" or "counter"
  std::string_view help;  // the exposition's HELP text, which adds the chart(s) it comes from
};

struct ChartSpec {
  std::string_view id;     // "system.ipc_semaphores"
  std::string_view units;  // "semaphores"
  // The name of the chart's only dimension, or empty when it has one per queue, call or limit,
  // which `dimensions` then describes.
  std::string_view dimension;
  std::string_view dimensions;
  std::string_view title;
  std::string_view family;
  std::string_view context;
  ChartType type;
  int priority;
  // Netdata's id for the chart when it differs from ours; accepted as an alias wherever a chart is
  // named (docs/design.md §2).
  std::string_view netdata_id;
  std::array<const MetricSpec*, 2> metrics;  // unused entries are nullptr
};

namespace metric {
inline constexpr MetricSpec kUp{"ipctrail_up", "gauge",
                                "1 when this exposition comes from a collection, 0 before the "
                                "first one."};
inline constexpr MetricSpec kBuildInfo{"ipctrail_build_info", "gauge",
                                       "Always 1; the version label says which ipctrail."};
inline constexpr MetricSpec kLastSampleTimestamp{
    "ipctrail_last_sample_timestamp_seconds", "gauge",
    "Unix time of the collection this exposition shows."};
inline constexpr MetricSpec kProcfsSkippedLines{
    "ipctrail_procfs_skipped_lines", "gauge",
    "Malformed or truncated /proc/sysvipc lines skipped in the last collection."};
inline constexpr MetricSpec kSemaphores{"ipctrail_semaphores", "gauge",
                                        "Semaphores allocated system wide (seminfo.semaem)."};
inline constexpr MetricSpec kSemaphoreArrays{"ipctrail_semaphore_arrays", "gauge",
                                             "Semaphore arrays in use (seminfo.semusz)."};
inline constexpr MetricSpec kMessageQueues{"ipctrail_message_queues", "gauge",
                                           "Message queues in use, compared with msgmni."};
inline constexpr MetricSpec kQueueMessages{"ipctrail_message_queue_messages", "gauge",
                                           "Messages queued (qnum) per queue."};
inline constexpr MetricSpec kQueueBytes{"ipctrail_message_queue_bytes", "gauge",
                                        "Bytes queued (cbytes) per queue."};
inline constexpr MetricSpec kShmSegments{"ipctrail_shared_memory_segments", "gauge",
                                         "Shared memory segments."};
inline constexpr MetricSpec kShmBytes{"ipctrail_shared_memory_bytes", "gauge",
                                      "Sum of shared memory segment sizes in bytes."};
inline constexpr MetricSpec kShmPages{
    "ipctrail_shared_memory_pages", "gauge",
    "Shared memory segment sizes rounded up to pages, compared with shmall."};
inline constexpr MetricSpec kLeakedObjects{
    "ipctrail_leaked_objects", "gauge",
    "IPC objects the leak rules suspect, by kind (sem, msg, shm); agent only."};
inline constexpr MetricSpec kLimit{
    "ipctrail_limit", "gauge",
    "Kernel System V IPC limit of the namespace, as the kernel states it (shmall in pages, "
    "msgmnb, msgmax and shmmax in bytes, the others in counts)."};
inline constexpr MetricSpec kAlertStatus{
    "ipctrail_alert_status", "gauge",
    "Alert status: -2 removed, -1 undefined, 0 uninitialized, 1 clear, 2 raised, 3 warning, "
    "4 critical."};
inline constexpr MetricSpec kSyscalls{
    "ipctrail_syscalls_total", "counter",
    "System V IPC system calls counted by the BPF programs since they were attached."};
inline constexpr MetricSpec kSyscallErrors{
    "ipctrail_syscall_errors_total", "counter",
    "System V IPC system calls that failed, by errno, since the BPF programs were attached."};
inline constexpr MetricSpec kBpfSyscallTax{
    "ipctrail_bpf_syscall_tax_ratio", "gauge",
    "Cost the BPF programs added to an unrelated syscall (getppid) when they attached, as a "
    "fraction of its cost before (0.3 is +30%), by attach mode."};
inline constexpr MetricSpec kBpfCallsLost{
    "ipctrail_bpf_calls_lost_total", "counter",
    "IPC system calls the BPF programs could not count since they were attached, by reason: "
    "recursion (the kernel skipped a program because a BPF program was already running on that "
    "CPU), namespace_map_full (calls of other IPC namespaces beyond the map)."};
}  // namespace metric

// Every metric family, in the order of the exposition.
inline constexpr std::array<const MetricSpec*, 19> kMetrics{
    &metric::kUp,
    &metric::kBuildInfo,
    &metric::kLastSampleTimestamp,
    &metric::kProcfsSkippedLines,
    &metric::kSemaphores,
    &metric::kSemaphoreArrays,
    &metric::kMessageQueues,
    &metric::kQueueMessages,
    &metric::kQueueBytes,
    &metric::kShmSegments,
    &metric::kShmBytes,
    &metric::kShmPages,
    &metric::kLeakedObjects,
    &metric::kLimit,
    &metric::kAlertStatus,
    &metric::kSyscalls,
    &metric::kSyscallErrors,
    &metric::kBpfSyscallTax,
    &metric::kBpfCallsLost,
};

namespace chart {
// The six reference charts (docs/design.md §2), with Netdata's metadata.
inline constexpr ChartSpec kSemaphores{
    .id = "system.ipc_semaphores",
    .units = "semaphores",
    .dimension = "semaphores",
    .dimensions = "",
    .title = "IPC Semaphores",
    .family = "ipc semaphores",
    .context = "system.ipc_semaphores",
    .type = ChartType::kArea,
    .priority = 1203,
    .netdata_id = "",
    .metrics = {&metric::kSemaphores, nullptr},
};
inline constexpr ChartSpec kSemaphoreArrays{
    .id = "system.ipc_semaphore_arrays",
    .units = "arrays",
    .dimension = "arrays",
    .dimensions = "",
    .title = "IPC Semaphore Arrays",
    .family = "ipc semaphores",
    .context = "system.ipc_semaphore_arrays",
    .type = ChartType::kArea,
    .priority = 1204,
    .netdata_id = "",
    .metrics = {&metric::kSemaphoreArrays, nullptr},
};
inline constexpr ChartSpec kQueueMessages{
    .id = "system.message_queue_message",
    .units = "messages",
    .dimension = "",
    .dimensions = "one per queue (decimal msqid)",
    .title = "IPC Message Queue Number of Messages",
    .family = "ipc message queues",
    .context = "system.message_queue_messages",
    .type = ChartType::kStacked,
    .priority = 1201,
    .netdata_id = "system.message_queue_messages",
    .metrics = {&metric::kQueueMessages, &metric::kMessageQueues},
};
inline constexpr ChartSpec kQueueBytes{
    .id = "system.message_queue_bytes",
    .units = "bytes",
    .dimension = "",
    .dimensions = "one per queue (decimal msqid)",
    .title = "IPC Message Queue Used Bytes",
    .family = "ipc message queues",
    .context = "system.message_queue_bytes",
    .type = ChartType::kStacked,
    .priority = 1202,
    .netdata_id = "",
    .metrics = {&metric::kQueueBytes, nullptr},
};
inline constexpr ChartSpec kShmSegments{
    .id = "system.shared_memory_segments",
    .units = "segments",
    .dimension = "segments",
    .dimensions = "",
    .title = "IPC Shared Memory Number of Segments",
    .family = "ipc shared memory",
    .context = "system.shared_memory_segments",
    .type = ChartType::kStacked,
    .priority = 1205,
    .netdata_id = "",
    .metrics = {&metric::kShmSegments, nullptr},
};
inline constexpr ChartSpec kShmBytes{
    .id = "system.shared_memory_bytes",
    .units = "bytes",
    .dimension = "bytes",
    .dimensions = "",
    .title = "IPC Shared Memory Used Bytes",
    .family = "ipc shared memory",
    .context = "system.shared_memory_bytes",
    .type = ChartType::kStacked,
    .priority = 1206,
    .netdata_id = "",
    .metrics = {&metric::kShmBytes, &metric::kShmPages},
};
// The BPF call charts: Netdata's eBPF plugin has the shared memory one, the others are ipctrail's.
inline constexpr ChartSpec kSemaphoreCalls{
    .id = "system.ipc_semaphore_calls",
    .units = "calls",
    .dimension = "",
    .dimensions = "one per call (`semget`, `semop`, ...)",
    .title = "Calls to semaphore system calls",
    .family = "ipc semaphores",
    .context = "system.ipc_semaphore_calls",
    .type = ChartType::kLine,
    .priority = 1208,
    .netdata_id = "",
    .metrics = {&metric::kSyscalls, nullptr},
};
inline constexpr ChartSpec kQueueCalls{
    .id = "system.message_queue_calls",
    .units = "calls",
    .dimension = "",
    .dimensions = "one per call (`msgget`, `msgsnd`, ...)",
    .title = "Calls to message queue system calls",
    .family = "ipc message queues",
    .context = "system.message_queue_calls",
    .type = ChartType::kLine,
    .priority = 1209,
    .netdata_id = "",
    .metrics = {&metric::kSyscalls, nullptr},
};
inline constexpr ChartSpec kShmCalls{
    .id = "system.shared_memory_calls",
    .units = "calls",
    .dimension = "",
    .dimensions = "one per call (`shmget`, `shmat`, ...)",
    .title = "Calls to shared memory system calls",
    .family = "ipc shared memory",
    .context = "system.shared_memory_calls",
    .type = ChartType::kLine,
    .priority = 1207,
    .netdata_id = "",
    .metrics = {&metric::kSyscalls, nullptr},
};
inline constexpr ChartSpec kCallErrors{
    .id = "system.ipc_call_errors",
    .units = "calls",
    .dimension = "",
    .dimensions = "one per failure seen (`semget_ENOSPC`, ...)",
    .title = "Failed System V IPC system calls",
    .family = "ipc calls",
    .context = "system.ipc_call_errors",
    .type = ChartType::kLine,
    .priority = 1210,
    .netdata_id = "",
    .metrics = {&metric::kSyscallErrors, nullptr},
};
// ipctrail's: the kernel limits in force, stored so that the history shows usage against them.
inline constexpr ChartSpec kLimits{
    .id = "system.ipc_limits",
    .units = "limit",
    .dimension = "",
    .dimensions = "one per limit (`semmsl` ... `shmmax`)",
    .title = "System V IPC Limits",
    .family = "ipc limits",
    .context = "system.ipc_limits",
    .type = ChartType::kLine,
    .priority = 1211,
    .netdata_id = "",
    .metrics = {&metric::kLimit, nullptr},
};
}  // namespace chart

// Every chart, in the order charts_of() lists them, then the limits; the first
// kReferenceChartCount are the six reference charts.
inline constexpr std::array<const ChartSpec*, 11> kChartTable{
    &chart::kSemaphores,  &chart::kSemaphoreArrays, &chart::kQueueMessages,  &chart::kQueueBytes,
    &chart::kShmSegments, &chart::kShmBytes,        &chart::kSemaphoreCalls, &chart::kQueueCalls,
    &chart::kShmCalls,    &chart::kCallErrors,      &chart::kLimits,
};

inline constexpr std::size_t kReferenceChartCount = 6;

// The chart with this id, or with this alias (Netdata's id); nullptr when there is none.
const ChartSpec* find_chart(std::string_view id_or_alias);

// The charts `metric` is exported from, in table order (none for the agent's own metrics).
std::vector<const ChartSpec*> charts_exporting(const MetricSpec& metric);

// The chart id that `name` stands for: ours for an alias, `name` itself otherwise.
std::string_view canonical_chart_id(std::string_view name);

}  // namespace ipctrail
