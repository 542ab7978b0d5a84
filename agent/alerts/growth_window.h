// The growth of one resource over a sliding window of time: a least-squares line through the
// (time, value) samples of the last `window`, kept as running sums so that each sample costs O(1)
// (docs/design.md §10). The exhaustion forecasts divide the distance to a limit by its slope.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

namespace ipctrail {

class GrowthWindow {
 public:
  using Clock = std::chrono::steady_clock;

  // At most this many samples are kept: a longer window at a short interval keeps one sample per
  // window / kMaxSamples, so memory stays bounded whatever the configuration.
  static constexpr std::size_t kMaxSamples = 4096;
  // A slope needs this many samples, spread over at least half the window.
  static constexpr std::size_t kMinSamples = 3;

  explicit GrowthWindow(Clock::duration window);

  // A new window length; the samples older than it are dropped at the next add().
  void set_window(Clock::duration window);

  // Records `value` at `now`; samples fall out of the window once older than `window`.
  void add(Clock::time_point now, double value);

  // Units per second, least squares over the window; empty with too few samples (fewer than
  // kMinSamples, or covering less than half the window).
  std::optional<double> slope_per_second() const;

  std::size_t size() const { return count_; }
  void clear();

 private:
  // Both relative to an origin, which keeps the products in the sums small enough to stay exact
  // for large values such as shared memory pages.
  struct Entry {
    double t = 0;      // seconds since origin_
    double value = 0;  // minus value_origin_
  };
  void push(const Entry& entry);
  void pop_oldest();
  void recompute_sums();
  double seconds_since_origin(Clock::time_point time) const;

  Clock::duration window_;
  Clock::duration spacing_;  // the least time between two kept samples
  std::vector<Entry> ring_;
  std::size_t first_ = 0;
  std::size_t count_ = 0;
  std::size_t pushes_since_recompute_ = 0;
  std::optional<Clock::time_point> origin_;
  double value_origin_ = 0;
  std::optional<Clock::time_point> last_kept_;
  // Running sums over the kept samples.
  double sum_t_ = 0, sum_v_ = 0, sum_tt_ = 0, sum_tv_ = 0;
};

}  // namespace ipctrail
