// Test support: a history file of a known semaphore-array leak, written tick by tick through
// storage's Store (the real writer), so report tests can check every fact against the script.
#pragma once

#include <cstdint>
#include <filesystem>
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
inline constexpr std::int64_t kIncidentStart = 1'795'000'000'000;
inline constexpr std::int64_t kIncidentLastTick = kIncidentStart + 400'000;
inline constexpr int kIncidentFailures = 3;

// Writes the script to `path` (a new file). `hostile_text` goes into the alert's summary and
// instance-free text fields the report prints (a summary), to test escaping.
void write_incident_history(const std::filesystem::path& path,
                            const std::string& hostile_summary = "");

}  // namespace ipctrail::testing
