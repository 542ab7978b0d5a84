// ipc_call_failures and the exhaustion forecasts on hand-made Samples and an injected clock:
// window edges, slopes, a constant or shrinking resource, counter restarts, BPF off, and the
// bounded windows underneath (docs/design.md §10).
#include <gtest/gtest.h>

#include "agent/alerts/alerts.h"
#include "agent/alerts/failure_window.h"
#include "agent/alerts/growth_window.h"
#include "model/chart_table.h"

namespace ipctrail {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using Clock = AlertEngine::Clock;

const Clock::time_point kStart{};

// Only the alert under test, evaluated every second.
AlertConfigs only_alert(std::string_view name) {
  AlertConfigs configs = Config::default_alerts();
  for (auto& [alert_name, config] : configs) {
    config.enabled = alert_name == name;
    config.every = seconds(1);
  }
  return configs;
}

Sample arrays_sample(std::uint64_t arrays, std::uint64_t semmni) {
  Sample sample;
  sample.ts_ms = 1'700'000'000'000;
  sample.semaphore_arrays = arrays;
  sample.limits.semmni = semmni;
  return sample;
}

// A sample whose BPF counts say `failures` calls failed as `failure` since the previous tick.
Sample calls_sample(CallFailure failure, std::uint64_t failures) {
  Sample sample;
  sample.ts_ms = 1'700'000'000'000;
  IpcCallActivity& calls = sample.ipc_calls.emplace();
  calls.attach_mode = "tracepoint";
  IpcCallInterval& interval = calls.since_previous.emplace();
  interval.counts.failures_of(failure.call, failure.error) = failures;
  interval.counts.calls_of(failure.call) = failures;
  interval.elapsed = seconds(1);
  return sample;
}

// A copy: the engine's states() is a temporary.
std::optional<AlertState> state_of(const std::vector<AlertState>& states, std::string_view alert,
                                   std::string_view instance = "") {
  for (const AlertState& state : states) {
    if (state.alert == alert && state.instance == instance) return state;
  }
  return std::nullopt;
}

constexpr CallFailure kSemgetENOSPC{IpcCall::kSemget, ErrnoClass::kENOSPC};
constexpr CallFailure kMsgsndEAGAIN{IpcCall::kMsgsnd, ErrnoClass::kEAGAIN};

// ---- The windows ----

TEST(GrowthWindow, LeastSquaresSlopeOfASteadyClimb) {
  GrowthWindow growth(seconds(60));
  for (int second = 0; second <= 60; ++second) {
    growth.add(kStart + seconds(second), 5 + 2.0 * second);
  }
  ASSERT_TRUE(growth.slope_per_second());
  EXPECT_NEAR(*growth.slope_per_second(), 2.0, 1e-9);
}

TEST(GrowthWindow, TooFewSamplesOrTooShortACoverHaveNoSlope) {
  GrowthWindow growth(seconds(60));
  growth.add(kStart, 1);
  growth.add(kStart + seconds(40), 2);
  EXPECT_EQ(growth.slope_per_second(), std::nullopt);  // two samples
  GrowthWindow young(seconds(60));
  for (int second = 0; second < 29; ++second) young.add(kStart + seconds(second), second);
  EXPECT_EQ(young.slope_per_second(), std::nullopt);  // 28 s of a 60 s window
  young.add(kStart + seconds(30), 30);
  EXPECT_TRUE(young.slope_per_second());  // half the window
}

TEST(GrowthWindow, SamplesLeaveTheWindowAtItsEdge) {
  GrowthWindow growth(seconds(10));
  // A sample counts while younger than the window: at 10 s, the one at 0 s has left.
  for (int second = 0; second <= 10; ++second) growth.add(kStart + seconds(second), second);
  EXPECT_EQ(growth.size(), 10u);
  EXPECT_NEAR(*growth.slope_per_second(), 1.0, 1e-12);
  // The climb stops at 10; at 20 s only the flat samples from 11 s on are left.
  for (int second = 11; second <= 20; ++second) growth.add(kStart + seconds(second), 10);
  EXPECT_EQ(growth.size(), 10u);
  EXPECT_NEAR(*growth.slope_per_second(), 0.0, 1e-12);
}

TEST(GrowthWindow, LongWindowsKeepABoundedNumberOfSamplesAndStayExact) {
  GrowthWindow growth(std::chrono::hours(24));
  // A day at 100 ms of a resource in the trillions growing by 1 a second.
  for (std::int64_t tick = 0; tick < 864'000; ++tick) {
    growth.add(kStart + milliseconds(100 * tick), 1e12 + static_cast<double>(tick) / 10);
  }
  EXPECT_LE(growth.size(), GrowthWindow::kMaxSamples);
  ASSERT_TRUE(growth.slope_per_second());
  EXPECT_NEAR(*growth.slope_per_second(), 1.0, 1e-6);
}

TEST(FailureWindow, AFailureCountsForOneWindowThenDropsOut) {
  FailureWindow window;
  window.add(kStart + seconds(5), 3);
  window.add(kStart + seconds(6), 0);  // adds nothing
  window.add(kStart + seconds(7), 2);
  EXPECT_EQ(window.within(kStart + seconds(7), seconds(60)), 5u);
  EXPECT_EQ(window.within(kStart + seconds(64) + milliseconds(999), seconds(60)), 5u);
  EXPECT_EQ(window.within(kStart + seconds(65), seconds(60)), 2u);  // 5 + 60: out
  EXPECT_EQ(window.within(kStart + seconds(67), seconds(60)), 0u);
}

TEST(FailureWindow, ManyTicksAreBoundedAndStillCounted) {
  FailureWindow window;
  for (std::size_t tick = 0; tick < 2 * FailureWindow::kMaxTicks; ++tick) {
    window.add(kStart + milliseconds(100 * static_cast<std::int64_t>(tick)), 1);
  }
  EXPECT_EQ(window.within(kStart + seconds(819), std::chrono::hours(1)),
            2 * FailureWindow::kMaxTicks);
}

// ---- ipc_call_failures ----

TEST(CallFailuresAlert, OneInstancePerConfiguredFailureUndefinedWithoutBpf) {
  AlertEngine engine(only_alert("ipc_call_failures"));
  Sample sample = arrays_sample(1, 10);  // no ipc_calls: BPF off
  std::vector<AlertTransition> transitions = engine.evaluate(sample, kStart);
  ASSERT_EQ(transitions.size(), 7u);  // 6 critical + msgsnd_EAGAIN
  EXPECT_EQ(transitions[0].instance, "msgget_ENOMEM");
  EXPECT_EQ(transitions[6].instance, "shmget_ENOSPC");
  for (const AlertTransition& transition : transitions) {
    EXPECT_EQ(transition.alert, "ipc_call_failures");
    EXPECT_EQ(transition.chart, chart::kCallErrors.id);
    EXPECT_EQ(transition.new_status, AlertStatus::kUndefined);
    EXPECT_EQ(transition.new_value, std::nullopt);
    EXPECT_EQ(transition.summary, "IPC system calls are not counted (BPF is off or unavailable)");
  }
}

TEST(CallFailuresAlert, CriticalWhileSemgetFailsWithinTheWindowClearAfter) {
  AlertEngine engine(only_alert("ipc_call_failures"));
  Sample quiet = calls_sample(kSemgetENOSPC, 0);
  std::vector<AlertTransition> first = engine.evaluate(quiet, kStart);
  ASSERT_EQ(first.size(), 7u);
  for (const AlertTransition& t : first) EXPECT_EQ(t.new_status, AlertStatus::kClear);

  std::vector<AlertTransition> raised =
      engine.evaluate(calls_sample(kSemgetENOSPC, 3), kStart + seconds(1));
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].instance, "semget_ENOSPC");
  EXPECT_EQ(raised[0].new_status, AlertStatus::kCritical);
  EXPECT_EQ(raised[0].old_value, 0.0);
  EXPECT_EQ(raised[0].new_value, 3.0);
  EXPECT_EQ(raised[0].warn, 0);
  EXPECT_EQ(raised[0].crit, 0.0);
  EXPECT_EQ(raised[0].summary, "semget failed with ENOSPC 3 times in the last 1m");

  // Quiet ticks: still CRITICAL until a whole window passed since the failures.
  for (int second = 2; second < 61; ++second) {
    EXPECT_TRUE(engine.evaluate(quiet, kStart + seconds(second)).empty()) << second;
  }
  std::vector<AlertTransition> cleared = engine.evaluate(quiet, kStart + seconds(61));
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].new_status, AlertStatus::kClear);
  EXPECT_EQ(cleared[0].new_value, 0.0);
  EXPECT_EQ(cleared[0].summary, "no semget ENOSPC failures in the last 1m");
}

TEST(CallFailuresAlert, FailuresBetweenEvaluationsStillCount) {
  AlertConfigs configs = only_alert("ipc_call_failures");
  configs.at("ipc_call_failures").every = seconds(10);
  AlertEngine engine(configs);
  engine.evaluate(calls_sample(kSemgetENOSPC, 0), kStart);
  engine.evaluate(calls_sample(kSemgetENOSPC, 1), kStart + seconds(4));  // not due
  std::vector<AlertTransition> due =
      engine.evaluate(calls_sample(kSemgetENOSPC, 0), kStart + seconds(10));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].new_status, AlertStatus::kCritical);
}

TEST(CallFailuresAlert, QueueFullIsAWarningWithoutCrit) {
  AlertEngine engine(only_alert("ipc_call_failures"));
  engine.evaluate(calls_sample(kMsgsndEAGAIN, 0), kStart);
  std::vector<AlertTransition> raised =
      engine.evaluate(calls_sample(kMsgsndEAGAIN, 1), kStart + seconds(1));
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].instance, "msgsnd_EAGAIN");
  EXPECT_EQ(raised[0].new_status, AlertStatus::kWarning);
  EXPECT_EQ(raised[0].crit, std::nullopt);
  EXPECT_EQ(raised[0].summary, "msgsnd failed with EAGAIN 1 time in the last 1m");
}

TEST(CallFailuresAlert, ACounterRestartCountsNothingFromTheTotals) {
  AlertEngine engine(only_alert("ipc_call_failures"));
  engine.evaluate(calls_sample(kSemgetENOSPC, 0), kStart);
  // Counting restarted (BPF attached anew): old totals, no interval yet.
  Sample restarted = calls_sample(kSemgetENOSPC, 0);
  restarted.ipc_calls->since_previous.reset();
  restarted.ipc_calls->totals.failures_of(IpcCall::kSemget, ErrnoClass::kENOSPC) = 500;
  EXPECT_TRUE(engine.evaluate(restarted, kStart + seconds(1)).empty());
  EXPECT_EQ(state_of(engine.states(), "ipc_call_failures", "semget_ENOSPC")->value, 0.0);
}

TEST(CallFailuresAlert, ConfiguredFailuresAndAReloadThatDropsOne) {
  AlertConfigs configs = only_alert("ipc_call_failures");
  AlertConfig& alert = configs.at("ipc_call_failures");
  alert.critical_failures = {kSemgetENOSPC};
  alert.warning_failures = {kMsgsndEAGAIN};
  alert.window = seconds(5);
  AlertEngine engine(configs);
  EXPECT_EQ(engine.evaluate(calls_sample(kSemgetENOSPC, 0), kStart).size(), 2u);
  engine.evaluate(calls_sample(kSemgetENOSPC, 1), kStart + seconds(1));
  // A 5 s window: the failure at 1 s is out at 6 s.
  EXPECT_TRUE(engine.evaluate(calls_sample(kSemgetENOSPC, 0), kStart + seconds(5)).empty());
  EXPECT_EQ(engine.evaluate(calls_sample(kSemgetENOSPC, 0), kStart + seconds(6)).size(), 1u);

  alert.warning_failures.clear();
  engine.reconfigure(configs);
  std::vector<AlertTransition> removed =
      engine.evaluate(calls_sample(kSemgetENOSPC, 0), kStart + seconds(7));
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].instance, "msgsnd_EAGAIN");
  EXPECT_EQ(removed[0].new_status, AlertStatus::kRemoved);
  EXPECT_EQ(engine.states().size(), 1u);
}

// ---- Exhaustion forecasts ----

// Feeds `arrays(second)` of `semmni` each second from `first` to `last`; returns every transition.
template <typename Arrays>
std::vector<AlertTransition> feed(AlertEngine& engine, int first, int last, Arrays arrays,
                                  std::uint64_t semmni) {
  std::vector<AlertTransition> transitions;
  for (int second = first; second <= last; ++second) {
    for (AlertTransition& transition :
         engine.evaluate(arrays_sample(arrays(second), semmni), kStart + seconds(second))) {
      transitions.push_back(std::move(transition));
    }
  }
  return transitions;
}

AlertConfigs arrays_forecast() {
  AlertConfigs configs = only_alert("semaphore_arrays_exhaustion");
  configs.at("semaphore_arrays_exhaustion").window = seconds(60);
  return configs;
}

TEST(ExhaustionForecast, ASteadyLeakWarnsWithTheTimeToTheLimit) {
  AlertEngine engine(arrays_forecast());
  // One array a second from 100: at 60 s, 160 of 3000, 2840 s to go (under 1 h).
  feed(
      engine, 0, 60, [](int second) { return 100 + second; }, 3000);
  std::optional<AlertState> state = state_of(engine.states(), "semaphore_arrays_exhaustion");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->status, AlertStatus::kWarning);
  EXPECT_NEAR(*state->value, 2840, 1e-6);
  EXPECT_EQ(state->summary, "semaphore arrays reach the limit 3000 (semmni) in ~47 min at 60/min");
  EXPECT_EQ(state->chart, chart::kSemaphoreArrays.id);
}

TEST(ExhaustionForecast, CriticalUnderTenMinutesAndAtTheLimit) {
  AlertEngine engine(arrays_forecast());
  std::vector<AlertTransition> transitions = feed(
      engine, 0, 60, [](int second) { return 100 + 2 * second; }, 500);
  std::optional<AlertState> state = state_of(engine.states(), "semaphore_arrays_exhaustion");
  EXPECT_EQ(state->status, AlertStatus::kCritical);  // 280 left at 2/s: 140 s
  EXPECT_NEAR(*state->value, 140, 1e-6);
  ASSERT_FALSE(transitions.empty());
  EXPECT_EQ(transitions.back().warn, 3600);
  EXPECT_EQ(transitions.back().crit, 600.0);

  AlertEngine full(arrays_forecast());
  feed(
      full, 0, 60, [](int second) { return 440 + second; }, 500);
  state = state_of(full.states(), "semaphore_arrays_exhaustion");
  EXPECT_EQ(state->status, AlertStatus::kCritical);
  EXPECT_EQ(state->value, 0.0);
  EXPECT_EQ(state->summary,
            "semaphore arrays at the limit 500 (semmni) and still growing at 60/min");
}

TEST(ExhaustionForecast, AConstantOrShrinkingResourceNeverRaises) {
  for (int step : {0, -1}) {
    AlertEngine engine(arrays_forecast());
    // At 499 of 500, or shrinking from there: one more array would reach the limit.
    auto arrays = [step](int second) {
      return static_cast<std::uint64_t>(499 + step * second / 2);
    };
    for (const AlertTransition& t : feed(engine, 0, 600, arrays, 500)) {
      EXPECT_EQ(t.new_status, AlertStatus::kClear) << step << ": " << t.summary;
    }
    EXPECT_EQ(state_of(engine.states(), "semaphore_arrays_exhaustion")->value, std::nullopt);
  }
}

TEST(ExhaustionForecast, TooFewSamplesIsClearThenAStoppedLeakClears) {
  AlertEngine engine(arrays_forecast());
  std::vector<AlertTransition> first = engine.evaluate(arrays_sample(10, 100), kStart);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].new_status, AlertStatus::kClear);
  EXPECT_EQ(first[0].summary,
            "10 of 100 semaphore arrays in use (semmni); too few samples yet to see a trend");
  // A leak of one array every 2 s up to 60 of 100, then nothing more.
  auto arrays = [](int second) {
    return static_cast<std::uint64_t>(10 + std::min(second, 100) / 2);
  };
  std::vector<AlertTransition> leak = feed(engine, 1, 105, arrays, 100);
  ASSERT_FALSE(leak.empty());
  EXPECT_EQ(leak.back().new_status, AlertStatus::kCritical);  // 80 s to go at 100 s
  EXPECT_EQ(state_of(engine.states(), "semaphore_arrays_exhaustion")->status,
            AlertStatus::kCritical);
  // Once the climb has left the 60 s window, the resource is not growing.
  std::vector<AlertTransition> after = feed(engine, 106, 160, arrays, 100);
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(after.back().new_status, AlertStatus::kClear);
  std::optional<AlertState> state = state_of(engine.states(), "semaphore_arrays_exhaustion");
  EXPECT_EQ(state->summary, "60 of 100 semaphore arrays in use (semmni); not growing");
  EXPECT_EQ(state->value, std::nullopt);
}

TEST(ExhaustionForecast, UnknownLimitIsUndefinedAndUncollectedResourceToo) {
  AlertEngine engine(arrays_forecast());
  Sample sample = arrays_sample(10, 100);
  sample.limits.semmni.reset();
  EXPECT_EQ(engine.evaluate(sample, kStart)[0].summary, "semmni is unknown");
  sample.limits.semmni = 100;
  sample.semaphore_arrays.reset();
  std::vector<AlertTransition> later = engine.evaluate(sample, kStart + seconds(1));
  EXPECT_TRUE(later.empty());  // still UNDEFINED
  EXPECT_EQ(state_of(engine.states(), "semaphore_arrays_exhaustion")->summary,
            "semaphore arrays not collected");
}

TEST(ExhaustionForecast, EachLimitHasItsForecast) {
  AlertEngine engine(Config::default_alerts());
  std::vector<AlertState> states = engine.states();
  for (std::string_view name :
       {"semaphores_exhaustion", "semaphore_arrays_exhaustion", "message_queues_exhaustion",
        "shared_memory_segments_exhaustion", "shared_memory_pages_exhaustion"}) {
    EXPECT_TRUE(state_of(states, name)) << name;
  }
  EXPECT_EQ(state_of(states, "shared_memory_pages_exhaustion")->chart, chart::kShmBytes.id);
  EXPECT_EQ(state_of(states, "message_queues_exhaustion")->chart, chart::kQueueMessages.id);
}

TEST(ExhaustionForecast, TheKernelsNoLimitIsClear) {
  AlertEngine engine(only_alert("shared_memory_pages_exhaustion"));
  std::vector<AlertTransition> transitions;
  for (int second = 0; second <= 700; ++second) {
    Sample sample;
    sample.shm_pages = static_cast<std::uint64_t>(1000 * second);
    sample.limits.shmall = kUnlimitedFrom;  // Linux's default shmall
    for (AlertTransition& t : engine.evaluate(sample, kStart + seconds(second))) {
      transitions.push_back(std::move(t));
    }
  }
  ASSERT_EQ(transitions.size(), 1u);
  EXPECT_EQ(transitions[0].new_status, AlertStatus::kClear);
  EXPECT_EQ(transitions[0].summary, "shmall is unlimited");
}

TEST(ExhaustionForecast, HysteresisHoldsARaisedLevelUntilAQuarterPastItsThreshold) {
  AlertConfig config = Config::default_alerts().at("semaphore_arrays_exhaustion");
  EXPECT_EQ(forecast_status(3599, AlertStatus::kClear, config), AlertStatus::kWarning);
  EXPECT_EQ(forecast_status(3600, AlertStatus::kClear, config), AlertStatus::kClear);
  EXPECT_EQ(forecast_status(3700, AlertStatus::kWarning, config), AlertStatus::kWarning);
  EXPECT_EQ(forecast_status(4499, AlertStatus::kWarning, config), AlertStatus::kWarning);
  EXPECT_EQ(forecast_status(4500, AlertStatus::kWarning, config), AlertStatus::kClear);
  EXPECT_EQ(forecast_status(599, AlertStatus::kWarning, config), AlertStatus::kCritical);
  EXPECT_EQ(forecast_status(700, AlertStatus::kWarning, config), AlertStatus::kWarning);
  EXPECT_EQ(forecast_status(749, AlertStatus::kCritical, config), AlertStatus::kCritical);
  EXPECT_EQ(forecast_status(750, AlertStatus::kCritical, config), AlertStatus::kWarning);
  EXPECT_EQ(forecast_status(5000, AlertStatus::kCritical, config), AlertStatus::kClear);
}

TEST(ExhaustionForecast, ApproximateDurations) {
  EXPECT_EQ(approximate_duration(45), "~45 s");
  EXPECT_EQ(approximate_duration(7 * 60 + 10), "~7 min");
  EXPECT_EQ(approximate_duration(2.5 * 3600), "~2.5 h");
  EXPECT_EQ(approximate_duration(3 * 86400), "~3 d");
}

}  // namespace
}  // namespace ipctrail
