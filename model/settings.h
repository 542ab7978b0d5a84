// The configuration model: plain values with the built-in defaults. config/ipctrail.yaml states
// the same defaults, and a test keeps the two equal.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/bpf_mode.h"
#include "model/ipc_call_counts.h"

namespace ipctrail {

using Duration = std::chrono::milliseconds;

// Every alert the engine knows, in the order they are listed and configured: the usage alerts
// (percent of a limit), the failed-call alert, then one exhaustion forecast per limit
// (docs/design.md §10).
inline constexpr std::array<std::string_view, 12> kAlertNames{
    "semaphores_used",
    "semaphore_arrays_used",
    "message_queues_used",
    "shared_memory_segments_used",
    "shared_memory_bytes_used",
    "message_queue_bytes_used",
    "ipc_call_failures",
    "semaphores_exhaustion",
    "semaphore_arrays_exhaustion",
    "message_queues_exhaustion",
    "shared_memory_segments_exhaustion",
    "shared_memory_pages_exhaustion",
};

// What an alert measures, which decides the keys it takes and the unit of its value.
enum class AlertKind {
  kUsage,         // percent of a kernel limit; warn, warn_clear, crit, crit_clear
  kCallFailures,  // failed IPC system calls within a window (BPF); window, critical, warning
  kForecast,      // seconds until a limit is reached at the growth seen; window, warn/crit_within
};
AlertKind alert_kind(std::string_view alert_name);

// One kind of failed call, e.g. semget failing with ENOSPC; named "semget_ENOSPC".
struct CallFailure {
  IpcCall call = IpcCall::kSemget;
  ErrnoClass error = ErrnoClass::kENOSPC;
  friend bool operator==(const CallFailure&, const CallFailure&) = default;
};
std::string call_failure_name(const CallFailure& failure);

// Netdata's `delay` line for notifications (docs/design.md §3): a notification of a rise waits
// `up`, one of a fall waits `down`; a change while one is held multiplies both, up to `max`.
// Statuses and the history are never delayed.
struct NotifyDelay {
  Duration up{0};
  Duration down = std::chrono::minutes(5);
  double multiplier = 1.5;
  Duration max = std::chrono::hours(1);

  friend bool operator==(const NotifyDelay&, const NotifyDelay&) = default;
};

// Thresholds are percentages of a kernel limit. Hysteresis: the alert rises to WARNING above
// `warn` and, once raised, stays while above `warn_clear`; the same for `crit` / `crit_clear`
// (crit_clear off means it clears at `crit`). Crit is checked first. The defaults are Netdata
// 1.37.1's health.d/ipc.conf: warn `$this > (($status >= $WARNING) ? (70) : (80))`, crit
// `$this > (($status == $CRITICAL) ? (70) : (90))`, every 10s, delay down 5m multiplier 1.5 max 1h.
//
// The other kinds use `window` and their own thresholds instead (the percent ones are unused):
// ipc_call_failures is CRITICAL while a call of `critical_failures` failed within the window,
// WARNING while one of `warning_failures` did; a forecast is WARNING while its limit is reached
// within `warn_within` at the growth seen over the window, CRITICAL within `crit_within`.
struct AlertConfig {
  bool enabled = true;
  Duration every = std::chrono::seconds(10);
  double warn = 80;
  double warn_clear = 70;
  std::optional<double> crit = 90;
  std::optional<double> crit_clear = 70;
  Duration window{0};
  Duration warn_within = std::chrono::hours(1);
  Duration crit_within = std::chrono::minutes(10);
  std::vector<CallFailure> critical_failures;
  std::vector<CallFailure> warning_failures;
  NotifyDelay delay;

  friend bool operator==(const AlertConfig&, const AlertConfig&) = default;
};

// Which IPC namespaces the agent watches (docs/design.md §9): its own, as always and as the
// packaged service's privileges allow; or every namespace of the host, found again every
// `namespaces_rescan`, which needs CAP_SYS_PTRACE and CAP_SYS_ADMIN (the opt-in drop-in).
enum class NamespaceScope { kOwn, kAll };

// Keyed by alert name; a Config holds one entry for each of kAlertNames.
using AlertConfigs = std::map<std::string, AlertConfig, std::less<>>;

struct Config {
  Duration interval = std::chrono::seconds(1);

  NamespaceScope namespaces = NamespaceScope::kOwn;
  Duration namespaces_rescan = std::chrono::seconds(30);

  struct Database {
    std::string path = "/var/lib/ipctrail/history.db";
    Duration retention = std::chrono::hours(24 * 30);
    std::uint64_t max_size = std::uint64_t{1} << 30;
    friend bool operator==(const Database&, const Database&) = default;
  } database;

  struct Collect {
    bool semaphores = true;
    bool message_queues = true;
    bool shared_memory = true;
    friend bool operator==(const Collect&, const Collect&) = default;
  } collect;

  // Leak suspects (README "Leak suspects"): whether the rules run at all (off: no suspects, no
  // leak events, and the ipc_objects_leaked alert is removed), how long an object must sit unused,
  // and keys never suspected (an application's long-lived objects).
  struct Leaks {
    bool enabled = true;
    Duration min_age = std::chrono::minutes(10);
    std::vector<std::int32_t> ignore_keys;
    friend bool operator==(const Leaks&, const Leaks&) = default;
  } leaks;
  struct Bpf {
    BpfEnabled enabled = BpfEnabled::kAuto;
    BpfMode mode = BpfMode::kAuto;
    friend bool operator==(const Bpf&, const Bpf&) = default;
  } bpf;

  AlertConfigs alerts = default_alerts();

  struct Notify {
    std::vector<std::string> exec;  // program and arguments; empty: off
    Duration timeout = std::chrono::seconds(10);
    friend bool operator==(const Notify&, const Notify&) = default;
  } notify;
  struct Export {
    std::optional<std::string> prometheus_listen;  // HOST:PORT; empty: off
    std::optional<std::string> textfile_path;      // a .prom file; empty: off
    friend bool operator==(const Export&, const Export&) = default;
  } exporting;

  friend bool operator==(const Config&, const Config&) = default;

  static AlertConfigs default_alerts();
};

// Limits the loader enforces, shared with the command-line overrides.
inline constexpr Duration kMinInterval = std::chrono::milliseconds(100);
inline constexpr Duration kMaxInterval = std::chrono::hours(1);
inline constexpr Duration kMinNamespacesRescan = std::chrono::seconds(1);
inline constexpr Duration kMaxNamespacesRescan = std::chrono::hours(1);

}  // namespace ipctrail
