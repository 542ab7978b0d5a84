// Alert statuses (Netdata's, with their fixed numbers) and what the engine reports about them:
// shared by the engine that computes them, the store that keeps them, the notifier that announces
// them and the readers that print them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ipctrail {

// Netdata's statuses with their fixed numbers (stored as these numbers).
enum class AlertStatus : int {
  kRemoved = -2,
  kUndefined = -1,
  kUninitialized = 0,
  kClear = 1,
  kRaised = 2,
  kWarning = 3,
  kCritical = 4,
};

// "REMOVED", "UNDEFINED", "UNINITIALIZED", "CLEAR", "RAISED", "WARNING", "CRITICAL".
std::string_view status_name(AlertStatus status);

struct AlertTransition {
  std::int64_t ts_ms = 0;  // the evaluated Sample's ts_ms
  std::string_view alert;  // static storage: safe to keep
  std::string_view chart;
  std::string instance;  // "" for a whole-system alert, the msqid for a per-queue one
  AlertStatus old_status = AlertStatus::kUninitialized;
  AlertStatus new_status = AlertStatus::kUninitialized;
  std::optional<double> old_value;  // percent of the limit; empty when not known
  std::optional<double> new_value;
  double warn = 0;  // the thresholds configured when it happened
  std::optional<double> crit;
  std::string summary;  // one line for people: "9 of 10 semaphore arrays in use (90% of semmni)"
  // The IPC namespace it happened in (docs/design.md §9): 0 and "" for the agent's own; another
  // namespace's inode and label (each namespace's alerts are instances of their own).
  std::uint64_t namespace_inode = 0;
  std::string namespace_label;
};

struct AlertState {
  std::string_view alert;
  std::string_view chart;
  std::string instance;
  AlertStatus status = AlertStatus::kUninitialized;
  std::optional<double> value;
  std::int64_t since_ms = 0;  // ts of the transition into `status`; 0 before the first
  std::string summary;
};

}  // namespace ipctrail
