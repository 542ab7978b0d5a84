// The built-in alert defaults are Netdata 1.37.1's (docs/design.md §3), on real kernel objects:
// a full semmni is CRITICAL, and Netdata checks crit first, so CRITICAL falling to 70% or below
// goes straight to CLEAR without a WARNING in between.
#include <vector>

#include "agent/alerts/alerts.h"
#include "agent/collect/collector.h"
#include "tests/support/ipc_namespace.h"

namespace ipctrail {
namespace {

using std::chrono::seconds;

class NetdataDefaults : public testing::IpcNamespaceTest {
 protected:
  // One tick ten seconds after the previous: every alert is due each time. Returns the
  // transitions of semaphore_arrays_used.
  std::vector<AlertTransition> tick() {
    Sample sample = collector_.collect();
    std::vector<AlertTransition> arrays;
    for (AlertTransition& t :
         engine_.evaluate(sample, AlertEngine::Clock::time_point{} + seconds(10 * ticks_++))) {
      if (t.alert == "semaphore_arrays_used") arrays.push_back(std::move(t));
    }
    return arrays;
  }

  AlertEngine engine_{Config::default_alerts()};
  Collector collector_{CollectorOptions{}};
  int ticks_ = 0;
};

TEST_F(NetdataDefaults, AFullSemmniIsCriticalAndFallsStraightToClear) {
  set_kernel_value("sem", "250 32000 32 10");
  std::vector<int> arrays;
  for (int i = 0; i < 9; ++i) arrays.push_back(create_semaphore_array(1));
  auto first = tick();  // 90%: above warn's 80, not above crit's 90 (strict >)
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].new_status, AlertStatus::kWarning);

  arrays.push_back(create_semaphore_array(1));
  auto full = tick();  // 10 of 10
  ASSERT_EQ(full.size(), 1u);
  EXPECT_EQ(full[0].old_status, AlertStatus::kWarning);
  EXPECT_EQ(full[0].new_status, AlertStatus::kCritical);
  EXPECT_EQ(full[0].new_value, 100.0);
  EXPECT_EQ(full[0].crit, 90.0);

  // 90% and 80% stay CRITICAL: once CRITICAL, crit clears only at 70% or below.
  remove_semaphore_array(arrays[0]);
  EXPECT_TRUE(tick().empty());
  remove_semaphore_array(arrays[1]);
  EXPECT_TRUE(tick().empty());

  remove_semaphore_array(arrays[2]);  // 70%: not above crit's 70, nor above warn's 70
  auto cleared = tick();
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].old_status, AlertStatus::kCritical);
  EXPECT_EQ(cleared[0].new_status, AlertStatus::kClear);
  EXPECT_EQ(cleared[0].old_value, 80.0);
  EXPECT_EQ(cleared[0].new_value, 70.0);
}

TEST_F(NetdataDefaults, AllSemmnsInUseIsCriticalToo) {
  set_kernel_value("sem", "250 10 32 32000");
  for (int i = 0; i < 10; ++i) create_semaphore_array(1);  // 10 semaphores of semmns 10
  engine_.evaluate(collector_.collect(), AlertEngine::Clock::time_point{});
  bool found = false;
  for (const AlertState& state : engine_.states()) {
    if (state.alert != "semaphores_used") continue;
    found = true;
    EXPECT_EQ(state.status, AlertStatus::kCritical);
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace ipctrail
