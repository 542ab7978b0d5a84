#include "agent/alerts/failure_window.h"

namespace ipctrail {

void FailureWindow::add(Clock::time_point now, std::uint64_t failures) {
  if (failures == 0) return;
  sum_ += failures;
  if (ticks_.size() >= kMaxTicks) {
    ticks_.back().failures += failures;
    ticks_.back().at = now;
    return;
  }
  ticks_.push_back({now, failures});
}

std::uint64_t FailureWindow::within(Clock::time_point now, Clock::duration window) {
  while (!ticks_.empty() && ticks_.front().at <= now - window) {
    sum_ -= ticks_.front().failures;
    ticks_.pop_front();
  }
  return sum_;
}

void FailureWindow::clear() {
  ticks_.clear();
  sum_ = 0;
}

}  // namespace ipctrail
