// Test support: a history file of a known semaphore-array leak, written tick by tick through
// storage's Store (the real writer), so report tests can check every fact against the script.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace ipctrail::testing {

// The script, at one tick a second from kIncidentStart (unix ms):
//   arrays 0 until +60 s, then +1 every 10 s from +70 s to 10 at +160 s (semmni 10), held after;
//   semaphores = arrays; semget fails with ENOSPC once a tick at +161, +162 and +163 s;
//   semaphore_arrays_used: CLEAR at +0, WARNING at +150 s (9 of 10), CRITICAL at +160 s;
//   queue 7 (key 0x1234, uid 1000) holds 100 bytes, 2 messages from +0 on, and 4000 bytes,
//   40 messages for the one tick at +100 s (a spike); queue 8 holds 10 bytes, 1 message;
//   no ticks from +200 s to +219 s (a gap: a second sampling span starts at +220 s);
//   the last tick at +400 s.
//   With per-process records (IncidentOptions::leaker_comm), as BPF and the inventory give them:
//   arrays 100 to 109 are created, each in the tick it first appears, by the leaker's runs, pids
//   4700 to 4709 (comm leaker_comm, unit billing.service); they are leak suspects from +165 s on;
//   the failing semgets are the leaker's too, pids 4721, 4722 and 4723; array 50 (key 0x99) lives
//   from +20 s to +39 s, created by pid 4690 (the leaker too) and removed by ipcrm (pid 612, no
//   known unit); the tick at +162 s could not attribute 2 calls and lost 1 event.
inline constexpr std::int64_t kIncidentStart = 1'795'000'000'000;
inline constexpr std::int64_t kIncidentLastTick = kIncidentStart + 400'000;
inline constexpr int kIncidentFailures = 3;
inline constexpr std::int32_t kIncidentLeakerPid = 4700;  // array 100 + n: pid 4700 + n
inline constexpr std::int32_t kIncidentFailingPid = 4721;
inline constexpr std::int32_t kIncidentRemoverPid = 612;
inline constexpr const char* kIncidentUnit = "billing.service";

struct IncidentOptions {
  std::string hostile_summary;  // the WARNING's summary, to test escaping; a plain one when empty
  bool bpf = true;              // false: no call charts, as when BPF was off
  std::optional<std::string> leaker_comm;  // per-process records (schema 8) under this comm
};

// Writes the script to `path` (a new file).
void write_incident_history(const std::filesystem::path& path, const IncidentOptions& options = {});

}  // namespace ipctrail::testing
