// The alert engine on hand-made Samples: every rule, the hysteresis edges, the schedule,
// UNDEFINED limits, per-queue instances and reconfiguration.
#include <gtest/gtest.h>

#include "agent/alerts/alerts.h"
#include "model/charts.h"

namespace ipctrail {
namespace {

using std::chrono::seconds;
using Clock = AlertEngine::Clock;

const Clock::time_point kStart{};

// The usage alerts only; ipc_call_failures and the forecasts have tests of their own
// (alert_forecast_test.cpp).
AlertConfigs usage_alerts() {
  AlertConfigs configs = Config::default_alerts();
  for (auto& [name, config] : configs) config.enabled = alert_kind(name) == AlertKind::kUsage;
  return configs;
}

Sample quiet_sample() {
  Sample sample;
  sample.ts_ms = 1'700'000'000'000;
  sample.semaphores = 10;
  sample.semaphore_arrays = 1;
  sample.queues.emplace();
  sample.shm_segments = 1;
  sample.shm_bytes = 4096;
  sample.shm_pages = 1;
  sample.limits.semmns = 1000;
  sample.limits.semmni = 100;
  sample.limits.msgmni = 100;
  sample.limits.shmmni = 100;
  sample.limits.shmall = 1000;
  return sample;
}

MessageQueue queue(int msqid, std::uint64_t bytes, std::optional<std::uint64_t> capacity) {
  MessageQueue q;
  q.msqid = msqid;
  q.bytes = bytes;
  q.capacity_bytes = capacity;
  return q;
}

const AlertState* state_of(const std::vector<AlertState>& states, std::string_view alert,
                           std::string_view instance = "") {
  for (const AlertState& state : states) {
    if (state.alert == alert && state.instance == instance) return &state;
  }
  return nullptr;
}

std::vector<AlertTransition> only(const std::vector<AlertTransition>& all, std::string_view alert) {
  std::vector<AlertTransition> picked;
  for (const AlertTransition& t : all) {
    if (t.alert == alert) picked.push_back(t);
  }
  return picked;
}

TEST(AlertStatusNumbers, AreNetdatas) {
  EXPECT_EQ(static_cast<int>(AlertStatus::kRemoved), -2);
  EXPECT_EQ(static_cast<int>(AlertStatus::kUndefined), -1);
  EXPECT_EQ(static_cast<int>(AlertStatus::kUninitialized), 0);
  EXPECT_EQ(static_cast<int>(AlertStatus::kClear), 1);
  EXPECT_EQ(static_cast<int>(AlertStatus::kRaised), 2);
  EXPECT_EQ(static_cast<int>(AlertStatus::kWarning), 3);
  EXPECT_EQ(static_cast<int>(AlertStatus::kCritical), 4);
  EXPECT_EQ(status_name(AlertStatus::kRemoved), "REMOVED");
  EXPECT_EQ(status_name(AlertStatus::kUninitialized), "UNINITIALIZED");
  EXPECT_EQ(status_name(AlertStatus::kCritical), "CRITICAL");
}

TEST(AlertRules, OneRulePerUsageAlertInOrder) {
  std::size_t usage = 0;
  for (std::string_view name : kAlertNames) usage += alert_kind(name) == AlertKind::kUsage;
  ASSERT_EQ(alert_rules().size(), usage);
  for (std::size_t i = 0; i < usage; ++i) {
    EXPECT_EQ(alert_rules()[i].name, kAlertNames[i]);
  }
  EXPECT_EQ(alert_rules()[0].chart, chart_id::kSemaphores);
  EXPECT_EQ(alert_rules()[1].chart, chart_id::kSemaphoreArrays);
}

struct HysteresisCase {
  double value;
  AlertStatus current;
  AlertStatus expected;
};

TEST(StatusFor, WarnRaisesAbove80AndClearsAt70OrBelow) {
  AlertConfig config;  // the defaults' warn 80, warn_clear 70, without crit
  config.crit.reset();
  config.crit_clear.reset();
  const HysteresisCase cases[] = {
      {0, AlertStatus::kUninitialized, AlertStatus::kClear},
      {80, AlertStatus::kClear, AlertStatus::kClear},
      {80.01, AlertStatus::kClear, AlertStatus::kWarning},
      {90, AlertStatus::kUninitialized, AlertStatus::kWarning},
      {90, AlertStatus::kUndefined, AlertStatus::kWarning},
      {75, AlertStatus::kClear, AlertStatus::kClear},
      {75, AlertStatus::kWarning, AlertStatus::kWarning},
      {70.01, AlertStatus::kWarning, AlertStatus::kWarning},
      {70, AlertStatus::kWarning, AlertStatus::kClear},
      {100, AlertStatus::kWarning, AlertStatus::kWarning},
      {250, AlertStatus::kClear, AlertStatus::kWarning},  // never CRITICAL without crit
  };
  for (const HysteresisCase& c : cases) {
    EXPECT_EQ(status_for(c.value, c.current, config), c.expected)
        << c.value << " from " << status_name(c.current);
  }
}

// Netdata 1.37.1's health.d/ipc.conf: warn `$this > (($status >= $WARNING) ? (70) : (80))`,
// crit `$this > (($status == $CRITICAL) ? (70) : (90))`, crit checked first.
TEST(StatusFor, TheDefaultsAreNetdatas) {
  AlertConfig config;
  const HysteresisCase cases[] = {
      {80, AlertStatus::kClear, AlertStatus::kClear},
      {90, AlertStatus::kClear, AlertStatus::kWarning},
      {90.01, AlertStatus::kWarning, AlertStatus::kCritical},
      {100, AlertStatus::kUninitialized, AlertStatus::kCritical},
      {80, AlertStatus::kCritical, AlertStatus::kCritical},
      {70.01, AlertStatus::kCritical, AlertStatus::kCritical},
      {70, AlertStatus::kCritical, AlertStatus::kClear},  // straight to CLEAR
      {75, AlertStatus::kWarning, AlertStatus::kWarning},
      {70, AlertStatus::kWarning, AlertStatus::kClear},
  };
  for (const HysteresisCase& c : cases) {
    EXPECT_EQ(status_for(c.value, c.current, config), c.expected)
        << c.value << " from " << status_name(c.current);
  }
}

TEST(StatusFor, CritWithAndWithoutItsOwnClear) {
  AlertConfig config;
  config.crit = 90;
  config.crit_clear = 85;
  const HysteresisCase with_clear[] = {
      {90, AlertStatus::kWarning, AlertStatus::kWarning},
      {90.5, AlertStatus::kWarning, AlertStatus::kCritical},
      {95, AlertStatus::kClear, AlertStatus::kCritical},
      {86, AlertStatus::kCritical, AlertStatus::kCritical},
      {85, AlertStatus::kCritical, AlertStatus::kWarning},
      {71, AlertStatus::kCritical, AlertStatus::kWarning},  // warn's clear applies from CRITICAL
      {70, AlertStatus::kCritical, AlertStatus::kClear},
  };
  for (const HysteresisCase& c : with_clear) {
    EXPECT_EQ(status_for(c.value, c.current, config), c.expected)
        << c.value << " from " << status_name(c.current);
  }
  config.crit_clear.reset();
  EXPECT_EQ(status_for(90.5, AlertStatus::kCritical, config), AlertStatus::kCritical);
  EXPECT_EQ(status_for(90, AlertStatus::kCritical, config), AlertStatus::kWarning);
}

TEST(AlertEngine, UninitializedBeforeTheFirstEvaluation) {
  AlertEngine engine(usage_alerts());
  std::vector<AlertState> states = engine.states();
  ASSERT_EQ(states.size(), 5u);  // the per-queue alert has no instance before it sees queues
  for (const AlertState& state : states) {
    EXPECT_EQ(state.status, AlertStatus::kUninitialized) << state.alert;
    EXPECT_EQ(state.value, std::nullopt);
    EXPECT_EQ(state.since_ms, 0);
  }
}

TEST(AlertEngine, FirstEvaluationLogsEveryWholeSystemAlert) {
  AlertEngine engine(usage_alerts());
  Sample sample = quiet_sample();
  std::vector<AlertTransition> transitions = engine.evaluate(sample, kStart);
  ASSERT_EQ(transitions.size(), 5u);
  for (std::size_t i = 0; i < transitions.size(); ++i) {
    EXPECT_EQ(transitions[i].alert, kAlertNames[i]);
    EXPECT_EQ(transitions[i].old_status, AlertStatus::kUninitialized);
    EXPECT_EQ(transitions[i].new_status, AlertStatus::kClear);
    EXPECT_EQ(transitions[i].ts_ms, sample.ts_ms);
    EXPECT_EQ(transitions[i].old_value, std::nullopt);
    EXPECT_EQ(transitions[i].warn, 80);
    EXPECT_EQ(transitions[i].crit, 90);
  }
  EXPECT_EQ(transitions[0].new_value, 1.0);  // 10 of 1000 semaphores
  EXPECT_EQ(transitions[0].summary, "10 of 1000 semaphores in use (1% of semmns)");
  EXPECT_EQ(transitions[0].chart, chart_id::kSemaphores);
  EXPECT_EQ(transitions[0].instance, "");
}

TEST(AlertEngine, EachRuleDividesByItsOwnLimit) {
  AlertEngine engine(usage_alerts());
  Sample sample = quiet_sample();
  sample.semaphores = 810;      // of semmns 1000
  sample.semaphore_arrays = 9;  // of semmni 10
  sample.limits.semmni = 10;
  sample.queues->assign(85, queue(0, 0, 100));  // 85 queues of msgmni 100
  for (int i = 0; i < 85; ++i) (*sample.queues)[static_cast<std::size_t>(i)].msqid = i;
  sample.shm_segments = 50;  // of shmmni 100
  sample.shm_pages = 999;    // of shmall 1000
  sample.shm_bytes = 1;      // bytes are not what shared_memory_bytes_used compares
  std::vector<AlertTransition> transitions = engine.evaluate(sample, kStart);
  std::vector<AlertState> states = engine.states();
  EXPECT_DOUBLE_EQ(*state_of(states, "semaphores_used")->value, 81);
  EXPECT_EQ(state_of(states, "semaphores_used")->status, AlertStatus::kWarning);
  EXPECT_DOUBLE_EQ(*state_of(states, "semaphore_arrays_used")->value, 90);
  EXPECT_EQ(state_of(states, "semaphore_arrays_used")->status, AlertStatus::kWarning);
  EXPECT_EQ(state_of(states, "semaphore_arrays_used")->summary,
            "9 of 10 semaphore arrays in use (90% of semmni)");
  EXPECT_DOUBLE_EQ(*state_of(states, "message_queues_used")->value, 85);
  EXPECT_EQ(state_of(states, "message_queues_used")->status, AlertStatus::kWarning);
  EXPECT_DOUBLE_EQ(*state_of(states, "shared_memory_segments_used")->value, 50);
  EXPECT_EQ(state_of(states, "shared_memory_segments_used")->status, AlertStatus::kClear);
  EXPECT_DOUBLE_EQ(*state_of(states, "shared_memory_bytes_used")->value, 99.9);
  EXPECT_EQ(state_of(states, "shared_memory_bytes_used")->status, AlertStatus::kCritical);
  EXPECT_EQ(state_of(states, "message_queue_bytes_used", "7")->status, AlertStatus::kClear);
  EXPECT_EQ(only(transitions, "message_queue_bytes_used").size(), 0u);  // calm queues are quiet
}

TEST(AlertEngine, EvaluatesEachAlertEveryTenSecondsOnTheLatestSample) {
  AlertEngine engine(usage_alerts());
  Sample sample = quiet_sample();
  sample.limits.semmni = 10;
  engine.evaluate(sample, kStart);
  sample.semaphore_arrays = 9;
  for (int second = 1; second < 10; ++second) {
    EXPECT_TRUE(engine.evaluate(sample, kStart + seconds(second)).empty()) << second;
  }
  EXPECT_EQ(engine.states()[1].status, AlertStatus::kClear);
  std::vector<AlertTransition> due = engine.evaluate(sample, kStart + seconds(10));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].alert, "semaphore_arrays_used");
  EXPECT_EQ(due[0].old_status, AlertStatus::kClear);
  EXPECT_EQ(due[0].new_status, AlertStatus::kWarning);
  EXPECT_EQ(due[0].old_value, 10.0);
  EXPECT_EQ(due[0].new_value, 90.0);
  EXPECT_EQ(engine.states()[1].since_ms, sample.ts_ms);
  // A stalled agent evaluates once when it comes back, then keeps the ten-second rhythm.
  sample.semaphore_arrays = 1;
  EXPECT_EQ(engine.evaluate(sample, kStart + seconds(95)).size(), 1u);
  sample.semaphore_arrays = 9;
  EXPECT_TRUE(engine.evaluate(sample, kStart + seconds(104)).empty());
  EXPECT_EQ(engine.evaluate(sample, kStart + seconds(105)).size(), 1u);
}

TEST(AlertEngine, PerAlertEvery) {
  AlertConfigs configs = usage_alerts();
  configs.at("semaphores_used").every = seconds(1);
  AlertEngine engine(configs);
  Sample sample = quiet_sample();
  engine.evaluate(sample, kStart);
  sample.semaphores = 900;
  sample.semaphore_arrays = 90;
  std::vector<AlertTransition> after_one = engine.evaluate(sample, kStart + seconds(1));
  ASSERT_EQ(after_one.size(), 1u);
  EXPECT_EQ(after_one[0].alert, "semaphores_used");
}

TEST(AlertEngine, UnknownOrZeroLimitIsUndefinedNeverADivision) {
  AlertEngine engine(usage_alerts());
  Sample sample = quiet_sample();
  sample.limits.semmni = 0;
  sample.limits.semmns.reset();
  sample.shm_segments.reset();  // shared memory not collected
  std::vector<AlertTransition> transitions = engine.evaluate(sample, kStart);
  std::vector<AlertState> states = engine.states();
  EXPECT_EQ(state_of(states, "semaphore_arrays_used")->status, AlertStatus::kUndefined);
  EXPECT_EQ(state_of(states, "semaphore_arrays_used")->value, std::nullopt);
  EXPECT_EQ(state_of(states, "semaphore_arrays_used")->summary, "semmni is 0");
  EXPECT_EQ(state_of(states, "semaphores_used")->status, AlertStatus::kUndefined);
  EXPECT_EQ(state_of(states, "semaphores_used")->summary, "semmns is unknown");
  EXPECT_EQ(state_of(states, "shared_memory_segments_used")->status, AlertStatus::kUndefined);
  EXPECT_EQ(state_of(states, "shared_memory_segments_used")->summary,
            "shared memory segments not collected");
  EXPECT_EQ(only(transitions, "semaphore_arrays_used").at(0).new_status, AlertStatus::kUndefined);

  sample.limits.semmni = 1;  // one array of one allowed: 100%
  std::vector<AlertTransition> known = engine.evaluate(sample, kStart + seconds(10));
  ASSERT_EQ(only(known, "semaphore_arrays_used").size(), 1u);
  EXPECT_EQ(only(known, "semaphore_arrays_used")[0].old_status, AlertStatus::kUndefined);
  EXPECT_EQ(only(known, "semaphore_arrays_used")[0].new_status, AlertStatus::kCritical);
}

TEST(AlertEngine, QueueInstancesAreLoggedOnceRaisedAndGoRemovedWithTheirQueue) {
  AlertEngine engine(usage_alerts());
  Sample sample = quiet_sample();
  sample.queues = {queue(32768, 500, 1000), queue(5, 0, 1000)};
  auto at = [&](int second) {
    return only(engine.evaluate(sample, kStart + seconds(second)), "message_queue_bytes_used");
  };
  EXPECT_TRUE(at(0).empty());  // new and calm: kept in states, not logged
  EXPECT_EQ(state_of(engine.states(), "message_queue_bytes_used", "32768")->status,
            AlertStatus::kClear);

  (*sample.queues)[0].bytes = 850;
  std::vector<AlertTransition> raised = at(10);
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].instance, "32768");
  EXPECT_EQ(raised[0].chart, chart_id::kQueueBytes);
  EXPECT_EQ(raised[0].old_status, AlertStatus::kClear);
  EXPECT_EQ(raised[0].new_status, AlertStatus::kWarning);
  EXPECT_EQ(raised[0].old_value, 50.0);
  EXPECT_EQ(raised[0].new_value, 85.0);
  EXPECT_EQ(raised[0].summary, "queue 32768: 850 of 1000 bytes queued (85% of msg_qbytes)");

  (*sample.queues)[0].bytes = 750;
  EXPECT_TRUE(at(20).empty());  // 75% > warn_clear: still WARNING
  (*sample.queues)[0].bytes = 700;
  std::vector<AlertTransition> cleared = at(30);
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].new_status, AlertStatus::kClear);

  sample.queues = {queue(7, 0, 1000)};  // both queues gone, a new one came
  std::vector<AlertTransition> removed = at(40);
  ASSERT_EQ(removed.size(), 1u);  // queue 5 was never raised: it leaves quietly
  EXPECT_EQ(removed[0].instance, "32768");
  EXPECT_EQ(removed[0].old_status, AlertStatus::kClear);
  EXPECT_EQ(removed[0].new_status, AlertStatus::kRemoved);
  EXPECT_EQ(removed[0].new_value, std::nullopt);
  EXPECT_EQ(removed[0].summary, "queue 32768 was removed");
  std::vector<AlertState> states = engine.states();
  EXPECT_EQ(state_of(states, "message_queue_bytes_used", "32768"), nullptr);
  EXPECT_EQ(state_of(states, "message_queue_bytes_used", "5"), nullptr);
  EXPECT_NE(state_of(states, "message_queue_bytes_used", "7"), nullptr);
}

TEST(AlertEngine, QueueWithUnknownCapacityIsUndefined) {
  AlertEngine engine(usage_alerts());
  Sample sample = quiet_sample();
  sample.queues = {queue(3, 100, std::nullopt), queue(4, 100, 0)};
  EXPECT_TRUE(only(engine.evaluate(sample, kStart), "message_queue_bytes_used").empty());
  std::vector<AlertState> states = engine.states();
  EXPECT_EQ(state_of(states, "message_queue_bytes_used", "3")->status, AlertStatus::kUndefined);
  EXPECT_EQ(state_of(states, "message_queue_bytes_used", "3")->summary,
            "queue 3: msg_qbytes is unknown");
  EXPECT_EQ(state_of(states, "message_queue_bytes_used", "4")->summary, "queue 4: msg_qbytes is 0");
}

TEST(AlertEngine, QueuesNotCollectedMakesRaisedQueuesUndefinedNotRemoved) {
  AlertEngine engine(usage_alerts());
  Sample sample = quiet_sample();
  sample.queues = {queue(9, 900, 1000)};
  ASSERT_EQ(only(engine.evaluate(sample, kStart), "message_queue_bytes_used").size(), 1u);
  sample.queues.reset();
  std::vector<AlertTransition> unknown =
      only(engine.evaluate(sample, kStart + seconds(10)), "message_queue_bytes_used");
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(unknown[0].new_status, AlertStatus::kUndefined);
  EXPECT_EQ(state_of(engine.states(), "message_queues_used")->status, AlertStatus::kUndefined);
}

TEST(AlertEngine, ReconfigureChangesThresholdsAndSwitchesAlertsOffAndOn) {
  AlertConfigs configs = usage_alerts();
  AlertEngine engine(configs);
  Sample sample = quiet_sample();
  sample.semaphore_arrays = 60;  // 60% of semmni 100
  engine.evaluate(sample, kStart);

  configs.at("semaphore_arrays_used").warn = 50;
  configs.at("semaphore_arrays_used").warn_clear = 40;
  configs.at("semaphore_arrays_used").crit = 55;
  configs.at("semaphores_used").enabled = false;
  engine.reconfigure(configs);
  std::vector<AlertTransition> after = engine.evaluate(sample, kStart + seconds(10));
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].alert, "semaphores_used");
  EXPECT_EQ(after[0].new_status, AlertStatus::kRemoved);
  EXPECT_EQ(after[0].summary, "alert switched off");
  EXPECT_EQ(after[1].alert, "semaphore_arrays_used");
  EXPECT_EQ(after[1].new_status, AlertStatus::kCritical);
  EXPECT_EQ(after[1].warn, 50);
  EXPECT_EQ(after[1].crit, 55.0);
  EXPECT_EQ(state_of(engine.states(), "semaphores_used"), nullptr);

  configs.at("semaphores_used").enabled = true;
  engine.reconfigure(configs);
  EXPECT_EQ(state_of(engine.states(), "semaphores_used")->status, AlertStatus::kUninitialized);
  std::vector<AlertTransition> back = engine.evaluate(sample, kStart + seconds(11));
  ASSERT_EQ(back.size(), 1u);  // due at once; the others wait for their schedule
  EXPECT_EQ(back[0].alert, "semaphores_used");
  EXPECT_EQ(back[0].old_status, AlertStatus::kUninitialized);
}

TEST(AlertEngine, DisabledFromTheStartHasNoState) {
  AlertConfigs configs = usage_alerts();
  configs.at("message_queues_used").enabled = false;
  AlertEngine engine(configs);
  EXPECT_EQ(state_of(engine.states(), "message_queues_used"), nullptr);
  EXPECT_TRUE(only(engine.evaluate(quiet_sample(), kStart), "message_queues_used").empty());
}

}  // namespace
}  // namespace ipctrail

namespace ipctrail {
namespace {

// leaks.enabled: false leaves Sample::leak_suspects empty: an ipc_objects_leaked instance that
// exists goes REMOVED once, and comes back from REMOVED when the rules are on again.
TEST(LeakAlert, RulesSwitchedOffRemoveItsInstancesOnce) {
  AlertEngine engine(Config::default_alerts());
  Sample sample = quiet_sample();
  sample.leak_suspects = std::vector<LeakSuspect>{{IpcKind::kSharedMemory, 7, 0x10, "orphaned"}};
  std::vector<AlertTransition> raised = only(engine.evaluate(sample, kStart), kLeakAlertName);
  ASSERT_EQ(raised.size(), 3u);  // one per kind: sem CLEAR, msg CLEAR, shm WARNING

  sample.leak_suspects.reset();
  sample.ts_ms += 1000;
  std::vector<AlertTransition> removed =
      only(engine.evaluate(sample, kStart + seconds(1)), kLeakAlertName);
  ASSERT_EQ(removed.size(), 3u);
  for (const AlertTransition& t : removed) {
    EXPECT_EQ(t.new_status, AlertStatus::kRemoved) << t.instance;
    EXPECT_EQ(t.summary, "leak rules switched off (leaks.enabled: false)");
  }
  EXPECT_EQ(removed[2].old_status, AlertStatus::kWarning);
  EXPECT_EQ(state_of(engine.states(), kLeakAlertName, "shm"), nullptr);
  EXPECT_TRUE(only(engine.evaluate(sample, kStart + seconds(2)), kLeakAlertName).empty());

  sample.leak_suspects.emplace();
  std::vector<AlertTransition> back =
      only(engine.evaluate(sample, kStart + seconds(3)), kLeakAlertName);
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[0].old_status, AlertStatus::kRemoved);
  EXPECT_EQ(back[0].new_status, AlertStatus::kClear);
  EXPECT_FALSE(back[0].old_value.has_value());
}

// An agent that never ran the rules has no instance to remove.
TEST(LeakAlert, RulesOffFromTheStartLogNothing) {
  AlertEngine engine(Config::default_alerts());
  Sample sample = quiet_sample();
  EXPECT_TRUE(only(engine.evaluate(sample, kStart), kLeakAlertName).empty());
}

}  // namespace
}  // namespace ipctrail
