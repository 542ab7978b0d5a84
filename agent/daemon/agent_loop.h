// The agent: samples on a steady schedule, evaluates the alerts, and writes every tick to the
// history file until SIGTERM or SIGINT, surviving faults of the file (full disk, locked
// database) on the way. SIGHUP reloads the configuration at the next tick.
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
  BpfOptions bpf;
  AlertConfigs alerts = Config::default_alerts();
  NotifierOptions notify;
  std::optional<std::string> prometheus_listen;        // HOST:PORT of /metrics; empty: off
  std::optional<std::filesystem::path> textfile_path;  // node_exporter textfile; empty: off
  std::optional<std::uint64_t> max_ticks;  // stop after this many ticks (tests, benchmarks)
};

// Called on SIGHUP: the options to run with from the next tick on, or nothing when the new
// configuration is invalid (the reloader has logged why; the running options stay).
using AgentReloader = std::function<std::optional<AgentOptions>()>;

// Runs in the foreground and returns the exit code. Ticks fall on start + n * interval of the
// steady clock: a slow tick does not shift later ones, and ticks it overran are skipped, not
// bunched. While the file cannot be written, ticks are dropped (counted, logged once) and
// sampling goes on; the next written tick starts a new sampling span, so the hole is visible.
int run_agent(const AgentOptions& options, const AgentReloader& reload = {});

}  // namespace ipctrail
