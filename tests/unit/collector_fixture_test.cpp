// The collector over recorded procfs trees: every chart and limit, and a missing source logged
// once rather than on every tick.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/cli/report.h"
#include "agent/collect/collector.h"
#include "model/charts.h"

namespace ipctrail {
namespace {

CollectorOptions fixture_options(const std::string& tree) {
  CollectorOptions options;
  options.procfs_root = std::string(IPCTRAIL_FIXTURES) + "/" + tree;
  options.use_syscalls = false;
  return options;
}

TEST(CollectorFixture, ReadsEveryChartAndLimit) {
  Collector collector(fixture_options("procfs-basic"));
  Sample sample = collector.collect();
  EXPECT_EQ(sample.semaphores, 276u);
  EXPECT_EQ(sample.semaphore_arrays, 3u);
  ASSERT_TRUE(sample.queues);
  EXPECT_EQ(sample.queues->size(), 3u);
  EXPECT_EQ(sample.shm_segments, 2u);
  EXPECT_EQ(sample.shm_bytes, 4096u + 1048577u);
  EXPECT_EQ(sample.limits.semmsl, 250u);
  EXPECT_EQ(sample.limits.semmns, 256000u);
  EXPECT_EQ(sample.limits.semopm, 32u);
  EXPECT_EQ(sample.limits.semmni, 128u);
  EXPECT_EQ(sample.limits.msgmni, 4000u);
  EXPECT_EQ(sample.limits.msgmnb, 16384u);
  EXPECT_EQ(sample.limits.msgmax, 8192u);
  EXPECT_EQ(sample.limits.shmmni, 4096u);
  EXPECT_EQ(sample.limits.shmall, 18446744073692774399ull);
  EXPECT_EQ(sample.limits.shmmax, 18446744073692774399ull);
  EXPECT_EQ(sample.skipped_lines, 0u);
}

TEST(CollectorFixture, JsonHasTheContractShape) {
  Collector collector(fixture_options("procfs-basic"));
  nlohmann::json json = nlohmann::json::parse(sample_to_json(collector.collect()));
  EXPECT_TRUE(json["ts"].is_number_integer());
  EXPECT_TRUE(json["time"].get<std::string>().ends_with("Z"));
  const auto& charts = json["charts"];
  EXPECT_EQ(charts.size(), 6u);
  EXPECT_EQ(charts["system.ipc_semaphores"]["units"], "semaphores");
  EXPECT_EQ(charts["system.ipc_semaphores"]["dimensions"]["semaphores"], 276);
  EXPECT_EQ(charts["system.ipc_semaphore_arrays"]["dimensions"]["arrays"], 3);
  EXPECT_EQ(charts["system.message_queue_message"]["units"], "messages");
  EXPECT_EQ(charts["system.message_queue_message"]["dimensions"]["32769"], 128);
  EXPECT_EQ(charts["system.message_queue_bytes"]["dimensions"]["0"], 300);
  EXPECT_EQ(charts["system.message_queue_bytes"]["dimensions"]["65538"], 0);
  EXPECT_EQ(charts["system.shared_memory_segments"]["dimensions"]["segments"], 2);
  EXPECT_EQ(charts["system.shared_memory_bytes"]["dimensions"]["bytes"], 4096 + 1048577);
  EXPECT_EQ(json["limits"]["semmni"], 128);
  EXPECT_EQ(json["limits"]["shmmax"].get<std::uint64_t>(), 18446744073692774399ull);
  EXPECT_EQ(json["queues"][1]["key"], -1412567295);
  EXPECT_EQ(json["queues"][2]["uid"], 33);
}

TEST(CollectorFixture, MissingShmFileIsLoggedOnceAndTheRestGoesOn) {
  std::ostringstream log;
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
  spdlog::set_default_logger(logger);

  Collector collector(fixture_options("procfs-no-shm"));
  Sample sample;
  for (int tick = 0; tick < 5; ++tick) collector.collect(sample);
  spdlog::set_default_logger(previous);

  EXPECT_FALSE(sample.shm_segments);
  EXPECT_FALSE(sample.shm_bytes);
  EXPECT_EQ(sample.semaphore_arrays, 3u);
  ASSERT_TRUE(sample.queues);
  EXPECT_EQ(sample.queues->size(), 3u);
  std::string text = log.str();
  std::size_t mentions = 0;
  for (std::size_t at = text.find("shared memory"); at != std::string::npos;
       at = text.find("shared memory", at + 1)) {
    ++mentions;
  }
  EXPECT_EQ(mentions, 1u) << text;
  EXPECT_NE(text.find("sysvipc/shm"), std::string::npos) << text;

  auto charts = charts_of(sample);
  ASSERT_EQ(charts.size(), 6u);
  EXPECT_EQ(charts[4].id, chart_id::kShmSegments);
  EXPECT_TRUE(charts[4].dimensions.empty());
}

TEST(CollectorFixture, SwitchedOffPartsAreEmpty) {
  CollectorOptions options = fixture_options("procfs-basic");
  options.message_queues = false;
  options.semaphores = false;
  Sample sample = Collector(options).collect();
  EXPECT_FALSE(sample.queues);
  EXPECT_FALSE(sample.semaphores);
  EXPECT_EQ(sample.shm_segments, 2u);
}

TEST(CollectorFixture, TableShowsLimitsAndPercentUsed) {
  Collector collector(fixture_options("procfs-basic"));
  std::string table = sample_to_table(collector.collect());
  EXPECT_NE(table.find("of 128 semmni (2.3% used)"), std::string::npos) << table;
  EXPECT_NE(table.find("of 4000 msgmni (0.1% used)"), std::string::npos) << table;
  EXPECT_NE(table.find("0x0000162e"), std::string::npos) << table;  // key 5678
}

}  // namespace
}  // namespace ipctrail
