// The agent: samples on a steady schedule, evaluates the alerts, and writes every tick to the
// history file until SIGTERM or SIGINT, surviving faults of the file (full disk, locked
// database) on the way. SIGHUP reloads the configuration between ticks; a configuration that
// cannot be read whole, or whose parts cannot start, is refused and the running one stays.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "agent/collect/collector.h"
#include "agent/notify/notifier.h"
#include "bpf/ipc_call_collector.h"
#include "model/settings.h"
#include "storage/retention_options.h"

namespace ipctrail {

// Everything the loop needs, as plain values, so a config file can fill it.
struct AgentOptions {
  std::filesystem::path db_path = "/var/lib/ipctrail/history.db";
  std::chrono::milliseconds interval{1000};
  RetentionOptions retention;
  CollectorOptions collector;
  NamespaceScope namespaces = NamespaceScope::kOwn;  // all: every other namespace too (§9)
  std::chrono::milliseconds namespaces_rescan{30000};
  BpfOptions bpf;
  AlertConfigs alerts = Config::default_alerts();
  NotifierOptions notify;
  std::optional<std::string> prometheus_listen;        // HOST:PORT of /metrics; empty: off
  std::optional<std::filesystem::path> textfile_path;  // node_exporter textfile; empty: off
  std::optional<std::uint64_t> max_ticks;  // stop after this many ticks (tests, benchmarks)

  friend bool operator==(const AgentOptions&, const AgentOptions&) = default;
};

// One reading of the configuration for a reload: the options it gives, or why it cannot be used;
// and the state of the file when read (size, modification time, inode), so that two readings can
// tell a file at rest from one that is being written.
struct ConfigReading {
  std::optional<AgentOptions> options;
  std::string refusal;  // why not, when there are no options
  std::string file_state;

  friend bool operator==(const ConfigReading&, const ConfigReading&) = default;
};

// Reads the configuration again; empty when the agent was started without a file to reload.
using AgentReloader = std::function<ConfigReading()>;

// A SIGHUP reads the file at once and again every kReloadSettle, ticks going on in between, until
// two readings in a row are identical: only then is the reading applied (or its refusal logged).
// A file caught while an editor or a script rewrites it in place (empty, or cut short) thus never
// applies, unless the writer stops for longer than kReloadSettle mid-write. After
// kMaxReloadReadings readings that all differ since the last SIGHUP, the reload gives up and the
// running options stay.
inline constexpr std::chrono::milliseconds kReloadSettle{100};
inline constexpr int kMaxReloadReadings = 20;

// Runs in the foreground and returns the exit code. Ticks fall on start + n * interval of the
// steady clock: a slow tick does not shift later ones, and ticks it overran are skipped, not
// bunched. While the file cannot be written, ticks are dropped (counted, logged once) and
// sampling goes on; the next written tick starts a new sampling span, so the hole is visible.
// A reload builds every part that changed (history file opened, BPF attached, port bound) before
// it replaces any running part, and refuses the whole new configuration when one cannot start.
int run_agent(const AgentOptions& options, const AgentReloader& reload = {});

}  // namespace ipctrail
