#include "agent/agent_loop.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <ctime>
#include <memory>

#include "agent/cli.h"
#include "agent/history_charts.h"
#include "storage/schema.h"
#include "storage/store.h"

namespace ipctrail {

namespace {

using Clock = std::chrono::steady_clock;

// SIGTERM and SIGINT stay blocked and are taken synchronously between ticks, so a tick that is
// being written always commits before the agent exits.
class StopSignals {
 public:
  StopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set_, &previous_);
  }
  ~StopSignals() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Sleeps until `deadline`; true when a stop signal arrived first.
  bool wait_until(Clock::time_point deadline) {
    for (;;) {
      auto left = deadline - Clock::now();
      if (left < Clock::duration::zero()) left = Clock::duration::zero();
      auto seconds = std::chrono::duration_cast<std::chrono::seconds>(left);
      timespec timeout{static_cast<time_t>(seconds.count()),
                       static_cast<long>(std::chrono::nanoseconds(left - seconds).count())};
      int signal = sigtimedwait(&set_, nullptr, &timeout);
      if (signal > 0) {
        spdlog::info("received {}, stopping", signal == SIGTERM ? "SIGTERM" : "SIGINT");
        return true;
      }
      if (errno == EAGAIN && Clock::now() >= deadline) return false;
    }
  }

 private:
  sigset_t set_{};
  sigset_t previous_{};
};

class HistoryWriter {
 public:
  explicit HistoryWriter(const AgentOptions& options) {
    store_options_.path = options.db_path;
    store_options_.retention = options.retention;
  }

  // Opens the store on first use; HistoryFileError (not ours) and failures to create the file
  // propagate from the first attempt, other faults are retried on the next tick.
  void write(const TickRecord& tick) {
    try {
      if (!store_) store_ = std::make_unique<Store>(store_options_);
      store_->write_tick(tick);
    } catch (const HistoryFileError&) {
      throw;
    } catch (const std::system_error& error) {
      // Creating the file or its folder failed on the first try: a wrong path or missing rights.
      if (written_ == 0 && dropped_ == 0) throw;
      failed(tick, error.what());
      return;
    } catch (const std::exception& error) {
      failed(tick, error.what());
      return;
    }
    ++written_;
    if (failing_) {
      spdlog::info("history writes to {} work again; {} ticks were dropped meanwhile",
                   store_options_.path.string(), dropped_in_failure_);
      failing_ = false;
    }
    spdlog::debug("committed tick ts={}", tick.ts_ms);
  }

  std::uint64_t written() const { return written_; }
  std::uint64_t dropped() const { return dropped_; }

 private:
  void failed(const TickRecord& tick, const std::string& why) {
    ++dropped_;
    if (!failing_) {
      spdlog::error(
          "cannot write history to {}: {}; dropping ticks (from ts={}) until it works "
          "again",
          store_options_.path.string(), why, tick.ts_ms);
      failing_ = true;
      dropped_in_failure_ = 0;
    }
    ++dropped_in_failure_;
  }

  StoreOptions store_options_;
  std::unique_ptr<Store> store_;
  bool failing_ = false;
  std::uint64_t written_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t dropped_in_failure_ = 0;
};

}  // namespace

int run_agent(const AgentOptions& options) {
  StopSignals stop;
  HistoryWriter writer(options);
  Collector collector(options.collector);
  Sample sample;
  TickRecord tick;
  std::uint64_t skipped = 0;
  spdlog::info("sampling every {}ms into {}", options.interval.count(), options.db_path.string());

  const Clock::time_point start = Clock::now();
  std::uint64_t index = 0;
  std::uint64_t ticks = 0;
  while (!options.max_ticks || ticks < *options.max_ticks) {
    if (stop.wait_until(start + index * options.interval)) break;
    collector.collect(sample);
    fill_tick_record(sample, options.interval.count(), tick);
    try {
      writer.write(tick);
    } catch (const HistoryFileError& error) {
      spdlog::error("{}", error.what());
      return kExitUsage;
    }
    ++ticks;
    // The next tick is the first scheduled one still in the future.
    auto behind = Clock::now() - start;
    auto due = static_cast<std::uint64_t>(behind / options.interval) + 1;
    if (due > index + 1) {
      skipped += due - index - 1;
      spdlog::debug(
          "tick took {}ms; skipping {} ticks",
          std::chrono::duration_cast<std::chrono::milliseconds>(behind - index * options.interval)
              .count(),
          due - index - 1);
    }
    index = std::max(due, index + 1);
  }
  spdlog::info("stopped: {} ticks written, {} dropped, {} skipped", writer.written(),
               writer.dropped(), skipped);
  return kExitOk;
}

}  // namespace ipctrail
