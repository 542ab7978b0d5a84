// Parsers for the text of /proc/sysvipc/{msg,shm,sem} and the limit files under
// /proc/sys/kernel. Pure functions over text, so recorded fixtures test them exactly.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "model/ipc_objects.h"
#include "model/sample.h"

namespace ipctrail {

// Rows are located by the header's column names, so a kernel that adds columns still parses.
// A row with the wrong number of fields, an unparsable number, or no final newline (the file
// ended mid-line) is skipped and counted.
struct ParseOutcome {
  bool header_ok = false;  // false: not a sysvipc table we understand; nothing was parsed
  std::uint64_t skipped_lines = 0;
};

// Appends one MessageQueue per row of /proc/sysvipc/msg.
ParseOutcome parse_msg_table(std::string_view text, std::vector<MessageQueue>& queues);

struct SharedMemoryTotals {
  std::uint64_t segments = 0;
  std::uint64_t bytes = 0;  // saturates at UINT64_MAX rather than wrapping
  std::uint64_t pages = 0;  // each segment rounded up to whole pages, as shmall counts
};
ParseOutcome parse_shm_table(std::string_view text, std::uint64_t page_size,
                             SharedMemoryTotals& totals);

struct SemaphoreTotals {
  std::uint64_t arrays = 0;
  std::uint64_t semaphores = 0;
};
ParseOutcome parse_sem_table(std::string_view text, SemaphoreTotals& totals);

// Appends one IpcObject per row of /proc/sysvipc/sem, msg or shm (the table of `kind`), every
// column the kernel states for that kind.
ParseOutcome parse_object_table(IpcKind kind, std::string_view text,
                                std::vector<IpcObject>& objects);

// The totals and per-queue values the charts take, from an inventory already parsed, so that
// the agent scans each table once.
SharedMemoryTotals shared_memory_totals(const std::vector<IpcObject>& segments,
                                        std::uint64_t page_size);
void append_queues(const std::vector<IpcObject>& queues, std::vector<MessageQueue>& out);
// What semctl(SEM_INFO) counts (the arrays in use and their semaphores), from the arrays listed.
SemaphoreTotals semaphore_totals(const std::vector<IpcObject>& arrays);

// /proc/sys/kernel/sem: "semmsl semmns semopm semmni".
struct SemaphoreLimits {
  std::uint64_t semmsl = 0, semmns = 0, semopm = 0, semmni = 0;
};
std::optional<SemaphoreLimits> parse_sem_limits(std::string_view text);

// A file holding one unsigned number and a newline, like /proc/sys/kernel/msgmni.
std::optional<std::uint64_t> parse_single_number(std::string_view text);

}  // namespace ipctrail
