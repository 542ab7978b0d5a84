// How much history the file keeps: by age and by size, and how much retention work one tick may do.
#pragma once

#include <chrono>
#include <cstdint>

namespace ipctrail {

struct RetentionOptions {
  std::chrono::milliseconds max_age = std::chrono::days(30);
  std::uint64_t max_bytes = std::uint64_t{1} << 30;
  // Bounds on the work: at most one step per `every` of tick time, each deleting at most
  // `rows_per_step` points and vacuuming at most `vacuum_pages_per_step` pages.
  std::chrono::milliseconds every = std::chrono::seconds(10);
  int rows_per_step = 5000;
  int vacuum_pages_per_step = 256;

  friend bool operator==(const RetentionOptions&, const RetentionOptions&) = default;
};

}  // namespace ipctrail
