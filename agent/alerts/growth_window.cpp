#include "agent/alerts/growth_window.h"

namespace ipctrail {

GrowthWindow::GrowthWindow(Clock::duration window) : ring_(kMaxSamples) {
  set_window(window);
}

void GrowthWindow::set_window(Clock::duration window) {
  window_ = window;
  spacing_ = window / static_cast<Clock::rep>(kMaxSamples);
}

void GrowthWindow::clear() {
  first_ = 0;
  count_ = 0;
  pushes_since_recompute_ = 0;
  origin_.reset();
  last_kept_.reset();
  sum_t_ = sum_v_ = sum_tt_ = sum_tv_ = 0;
}

double GrowthWindow::seconds_since_origin(Clock::time_point time) const {
  return std::chrono::duration<double>(time - *origin_).count();
}

void GrowthWindow::add(Clock::time_point now, double value) {
  if (last_kept_ && now < *last_kept_ + spacing_) return;
  if (!origin_) {
    origin_ = now;
    value_origin_ = value;
  }
  while (count_ > 0 && ring_[first_].t <= seconds_since_origin(now - window_)) pop_oldest();
  if (count_ == ring_.size()) pop_oldest();
  push({seconds_since_origin(now), value - value_origin_});
  last_kept_ = now;
  // Adding and subtracting drifts the sums; sums made afresh once per ring's worth of samples
  // keep them exact at O(1) per sample amortized, and move the origin along so that t stays small.
  if (++pushes_since_recompute_ >= ring_.size()) recompute_sums();
}

void GrowthWindow::push(const Entry& entry) {
  ring_[(first_ + count_) % ring_.size()] = entry;
  ++count_;
  sum_t_ += entry.t;
  sum_v_ += entry.value;
  sum_tt_ += entry.t * entry.t;
  sum_tv_ += entry.t * entry.value;
}

void GrowthWindow::pop_oldest() {
  const Entry& entry = ring_[first_];
  sum_t_ -= entry.t;
  sum_v_ -= entry.value;
  sum_tt_ -= entry.t * entry.t;
  sum_tv_ -= entry.t * entry.value;
  first_ = (first_ + 1) % ring_.size();
  --count_;
}

void GrowthWindow::recompute_sums() {
  pushes_since_recompute_ = 0;
  if (count_ == 0) return;
  auto shift =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(ring_[first_].t));
  double shift_seconds = std::chrono::duration<double>(shift).count();
  double value_shift = ring_[first_].value;
  *origin_ += shift;
  value_origin_ += value_shift;
  sum_t_ = sum_v_ = sum_tt_ = sum_tv_ = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    Entry& entry = ring_[(first_ + i) % ring_.size()];
    entry.t -= shift_seconds;
    entry.value -= value_shift;
    sum_t_ += entry.t;
    sum_v_ += entry.value;
    sum_tt_ += entry.t * entry.t;
    sum_tv_ += entry.t * entry.value;
  }
}

std::optional<double> GrowthWindow::slope_per_second() const {
  if (count_ < kMinSamples) return std::nullopt;
  double newest = ring_[(first_ + count_ - 1) % ring_.size()].t;
  double covered = newest - ring_[first_].t;
  if (covered < std::chrono::duration<double>(window_).count() / 2) return std::nullopt;
  auto n = static_cast<double>(count_);
  double spread = n * sum_tt_ - sum_t_ * sum_t_;
  if (spread <= 0) return std::nullopt;
  return (n * sum_tv_ - sum_t_ * sum_v_) / spread;
}

}  // namespace ipctrail
