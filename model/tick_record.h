// What one tick hands to the store: generic charts, whatever produced them (the six core charts,
// the limits, the BPF call charts), and the tick's alert transitions. The store keeps only
// changes, so a source just reports every current value on every tick.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "model/alert_status.h"
#include "model/charts.h"
#include "model/ipc_objects.h"
#include "model/process_activity.h"

namespace ipctrail {

// Who a per-queue series belongs to; a series is identified by chart, dimension and these, so a
// reused msqid with another key or owner starts a new series.
struct SeriesLabels {
  std::optional<std::int64_t> queue_key;
  std::optional<std::int64_t> owner_uid;
  friend bool operator==(const SeriesLabels&, const SeriesLabels&) = default;
};

// A value as the file holds it: SQLite's signed 64-bit integer for levels and counts (the BPF call
// charts hold each tick's calls), a double for a fractional chart value.
using StoredValue = std::variant<std::int64_t, double>;

struct ChartRecord {
  Chart chart;
  // Empty, or one entry per dimension of `chart`, in the same order.
  std::vector<SeriesLabels> labels;
  // False when the chart's source could not be read this tick: its values are unknown, so the
  // store leaves its series as they were (no end markers: a fault is not a removal).
  bool collected = true;
};

// Who made this tick's IPC calls and created or removed objects (BPF), with the owner of each
// caller's cgroup resolved to a name a person recognises, since the store cannot resolve it later.
struct ProcessTickRecord {
  std::vector<ProcessCallCount> calls;  // this tick's non-zero counts
  std::vector<LifecycleEvent> events;   // read in this tick, oldest first
  // cgroup id -> "apache2.service", "docker:abc123"; an id missing here has no known owner.
  std::unordered_map<std::uint64_t, std::string> cgroup_owners;
  // Owners named only now, of cgroups whose processes an earlier tick stored without one (cgroupfs
  // is walked at most every few seconds): the store fills them in.
  std::unordered_map<std::uint64_t, std::string> late_cgroup_owners;
  // What the kernel structures could not hold in this tick (not since counting started).
  std::uint64_t calls_not_attributed = 0;
  std::uint64_t events_lost = 0;
};

// An IPC namespace other than the agent's own, as the history and the labels name it
// (docs/design.md §9).
struct NamespaceIdentity {
  std::uint64_t inode = 0;  // of ipc:[<inode>]; reused by the kernel once the namespace is gone
  std::string label;        // what people call it: "docker:0123456789ab", "ipc:[4026532301]"
  std::string owner_kind;   // "host", "unit", "docker", ..., "unknown"
  std::string owner_name;   // empty when unknown
  std::string container;    // the container id or pod uid, where the cgroup path has one
  // When the oldest process seen in it started (unix ms), where known. After an agent restart the
  // history continues a namespace's still-open row of the same inode when this is before the
  // row's last sighting: the namespace is taken to have lived through the restart (wrongly only
  // if the inode was reused meanwhile by a namespace an older process made or joined).
  std::optional<std::int64_t> oldest_process_start_ms{};
  friend bool operator==(const NamespaceIdentity&, const NamespaceIdentity&) = default;
};

// Another IPC namespace's part of a tick: the same charts and objects as the agent's own.
struct NamespaceTickRecord {
  NamespaceIdentity identity;
  // First seen in this tick: a new namespaces row, even when a row of the same inode is live (the
  // kernel reused a gone namespace's inode).
  bool new_incarnation = false;
  // False when it could not be read this tick (privilege): its series and objects stay as they
  // were, since a failed read is not a removal.
  bool sampled = true;
  std::vector<ChartRecord> charts;
  IpcInventory objects;
  // Its own leak suspects, found by its collector's leak rules, as TickRecord::leak_suspects.
  std::optional<std::vector<LeakSuspect>> leak_suspects;
};

struct TickRecord {
  std::int64_t ts_ms = 0;        // unix milliseconds, wall clock
  std::int64_t interval_ms = 0;  // the agent's sampling interval, recorded with the sampling span
  std::vector<ChartRecord> charts;
  // Alert transitions of this tick, written in the same transaction as the values.
  std::vector<AlertTransition> alert_transitions;
  // Every IPC object, stored change-only in the same transaction; a kind not read is left as is.
  IpcInventory objects;
  // Leak suspects: each object's start and end of suspicion is logged as an object event; empty
  // when the leak rules are off, which clears every suspect.
  std::optional<std::vector<LeakSuspect>> leak_suspects;
  // Empty when BPF did not count per process in this tick (off, unavailable).
  std::optional<ProcessTickRecord> processes;
  // With `namespaces: all`, every other IPC namespace; one missing that a previous tick had is
  // gone.
  std::vector<NamespaceTickRecord> namespaces;
};

}  // namespace ipctrail
