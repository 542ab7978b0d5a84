// Failed calls of one kind within a sliding window of time: the count of each tick that had any,
// oldest first, with their running sum, so that each tick costs O(1) (docs/design.md §10).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>

namespace ipctrail {

class FailureWindow {
 public:
  using Clock = std::chrono::steady_clock;

  // At most this many ticks with failures are kept; beyond it a tick's count joins the newest
  // kept one, which then stays a little longer in the window (it errs towards alerting).
  static constexpr std::size_t kMaxTicks = 4096;

  // Failures counted at `now` (a tick); zero adds nothing.
  void add(Clock::time_point now, std::uint64_t failures);

  // The failures counted after `now - window`: a failure counts for `window`, then drops out.
  std::uint64_t within(Clock::time_point now, Clock::duration window);

  void clear();

 private:
  struct Tick {
    Clock::time_point at;
    std::uint64_t failures = 0;
  };
  std::deque<Tick> ticks_;
  std::uint64_t sum_ = 0;
};

}  // namespace ipctrail
