// The agent: samples on a steady schedule and writes every tick to the history file until
// SIGTERM or SIGINT, surviving faults of the file (full disk, locked database) on the way.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>

#include "agent/collector.h"
#include "storage/retention.h"

namespace ipctrail {

// Everything the loop needs, as plain values, so a config file can fill it.
struct AgentOptions {
  std::filesystem::path db_path = "/var/lib/ipctrail/history.db";
  std::chrono::milliseconds interval{1000};
  RetentionOptions retention;
  CollectorOptions collector;
  std::optional<std::uint64_t> max_ticks;  // stop after this many ticks (tests, benchmarks)
};

// Runs in the foreground and returns the exit code. Ticks fall on start + n * interval of the
// steady clock: a slow tick does not shift later ones, and ticks it overran are skipped, not
// bunched. While the file cannot be written, ticks are dropped (counted, logged once) and
// sampling goes on; the next written tick starts a new sampling span, so the hole is visible.
int run_agent(const AgentOptions& options);

}  // namespace ipctrail
