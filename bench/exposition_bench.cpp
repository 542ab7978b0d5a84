// The Prometheus export at four namespace sizes (synthetic samples, no root needed):
// - rendering the exposition beside the reference `sample_to_json(...)`, the JSON report
//   of the same sample;
// - a scrape of /metrics over loopback beside /health, the floor of one HTTP round trip.
#include <benchmark/benchmark.h>
#include <httplib.h>

#include "agent/cli/report.h"
#include "export/prometheus.h"

namespace {

using namespace ipctrail;

Sample sample_with(std::size_t queues) {
  Sample sample;
  sample.ts_ms = 1'700'000'000'000;
  sample.semaphores = 1200;
  sample.semaphore_arrays = 300;
  sample.queues.emplace();
  for (std::size_t i = 0; i < queues; ++i) {
    ipctrail::MessageQueue queue;
    queue.msqid = static_cast<int>(32768 + i);
    queue.key = static_cast<std::int32_t>(0x51000000 + i);
    queue.uid = 1000;
    queue.messages = i % 3;
    queue.bytes = (i % 3) * 512;
    sample.queues->push_back(queue);
  }
  sample.shm_segments = 40;
  sample.shm_bytes = 40ULL << 30;
  sample.shm_pages = 40ULL << 18;
  sample.limits.semmni = 32000;
  sample.limits.shmall = 18446744073692774399ULL;
  return sample;
}

void BM_RenderExposition(benchmark::State& state) {
  Sample sample = sample_with(static_cast<std::size_t>(state.range(0)));
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string text = render_exposition({.sample = sample});
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}

void BM_ReferenceJsonReport(benchmark::State& state) {
  Sample sample = sample_with(static_cast<std::size_t>(state.range(0)));
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string text = sample_to_json(sample);
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}

void scrape(benchmark::State& state, const char* path) {
  MetricsServer server({.address = {.host = "127.0.0.1", .port = 0}});
  server.publish(
      render_exposition({.sample = sample_with(static_cast<std::size_t>(state.range(0)))}));
  httplib::Client client("127.0.0.1", server.port());
  for (auto _ : state) {
    auto response = client.Get(path);
    if (!response || response->status != 200) {
      state.SkipWithError("scrape failed");
      break;
    }
    benchmark::DoNotOptimize(response->body);
  }
}

void BM_ScrapeMetrics(benchmark::State& state) {
  scrape(state, "/metrics");
}
void BM_ReferenceScrapeHealth(benchmark::State& state) {
  scrape(state, "/health");
}

#define SIZES Arg(0)->Arg(100)->Arg(1000)->Arg(5000)->Unit(benchmark::kMicrosecond)
BENCHMARK(BM_RenderExposition)->SIZES;
BENCHMARK(BM_ReferenceJsonReport)->SIZES;
BENCHMARK(BM_ScrapeMetrics)->SIZES;
BENCHMARK(BM_ReferenceScrapeHealth)->Arg(0)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
