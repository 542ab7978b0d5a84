// report_bench: what `ipctrail report` costs over a day of one-second history. Writes the history
// through the real Store (timestamps advance one second a tick, so a day takes minutes, not a
// day), then times the analysis and each layout over the whole day, and prints the HTML's size.
//
//   report_bench [--ticks N] [--queues N] [--churn N] [--dir PATH] [--reuse]
//
// --reuse keeps a file the same options wrote before instead of writing it again.
//
// The default is the busy host of storage_bench (10 queues, every value changes every tick) with
// semget failing for an hour; --queues 32000 --churn 100 is a host at the queue limit where 100
// queues change each tick.
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "agent/daemon/history_charts.h"
#include "bench/bench_support.h"
#include "report/render.h"
#include "report/report.h"
#include "storage/store.h"

namespace ipctrail {
namespace {

namespace fs = std::filesystem;
using bench::Clock;
using bench::cpu_ms;
using bench::host_sample;
using bench::ms_since;

constexpr std::int64_t kStartMs = 1'795'000'000'000;
constexpr std::int64_t kIntervalMs = 1000;

int run(int argc, char** argv) {
  int ticks = 86'400;
  int queues = 10;
  int churn = -1;  // every queue
  fs::path dir = fs::temp_directory_path();
  for (int i = 1; i + 1 < argc; ++i) {
    std::string option = argv[i];
    if (option == "--ticks") ticks = std::atoi(argv[i + 1]);
    if (option == "--queues") queues = std::atoi(argv[i + 1]);
    if (option == "--churn") churn = std::atoi(argv[i + 1]);
    if (option == "--dir") dir = argv[i + 1];
  }
  fs::path path = dir / fmt::format("report-bench-{}q-{}.db", queues, ticks);
  bool reuse = false;
  for (int i = 1; i < argc; ++i) reuse = reuse || std::string(argv[i]) == "--reuse";
  auto started = Clock::now();
  if (!reuse || !fs::exists(path)) {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path.string() + suffix);
    StoreOptions options;
    options.path = path;
    Store store(options);
    Sample sample = host_sample(queues);
    std::mt19937_64 random(42);
    TickRecord tick;
    IpcCallActivity calls;
    calls.since_previous.emplace();
    for (int i = 0; i < ticks; ++i) {
      sample.ts_ms = kStartMs + i * kIntervalMs;
      sample.semaphores = 1000 + random() % 20000;
      sample.semaphore_arrays = 50 + random() % 450;
      sample.shm_segments = 10 + random() % 200;
      sample.shm_bytes = (1ULL << 30) + random() % (8ULL << 30);
      int changed = churn < 0 ? queues : churn;
      for (int q = 0; q < changed; ++q) {
        MessageQueue& queue =
            (*sample.queues)[churn < 0 ? static_cast<std::size_t>(q) : random() % queues];
        queue.messages = random() % 5000;
        queue.bytes = random() % (4 << 20);
      }
      // semget fails with ENOSPC now and then during the fifth hour.
      bool failing = i >= 4 * 3600 && i < 5 * 3600;
      IpcCallCounts& counts = calls.since_previous->counts;
      counts = {};
      counts.calls_of(IpcCall::kSemget) = 1 + random() % 20;
      counts.failures_of(IpcCall::kSemget, ErrnoClass::kENOSPC) = failing ? random() % 3 : 0;
      calls.totals.failures_of(IpcCall::kSemget, ErrnoClass::kENOSPC) +=
          counts.failures_of(IpcCall::kSemget, ErrnoClass::kENOSPC);
      sample.ipc_calls = calls;
      fill_tick_record(sample, kIntervalMs, tick);
      store.write_tick(tick);
    }
  }
  fmt::print("{} {} ticks of {} queues ({} changing a tick) in {:.1f} s: {:.1f} MB\n",
             reuse ? "reused" : "wrote", ticks, queues, churn < 0 ? queues : churn,
             ms_since(started) / 1000, static_cast<double>(fs::file_size(path)) / 1e6);

  started = Clock::now();
  double cpu_started = cpu_ms();
  HistoryReader reader(path);
  Report report = analyse_history(reader, path.string(), kStartMs,
                                  kStartMs + static_cast<std::int64_t>(ticks) * kIntervalMs);
  double analysis_ms = ms_since(started);
  double analysis_cpu_ms = cpu_ms() - cpu_started;
  started = Clock::now();
  std::string text = render_text(report);
  double text_ms = ms_since(started);
  started = Clock::now();
  std::string json = render_json(report);
  double json_ms = ms_since(started);
  started = Clock::now();
  std::string html = render_html(report);
  double html_ms = ms_since(started);
  fmt::print(
      "analysis {:.0f} ms ({:.0f} ms CPU); text {:.0f} ms ({} B), json {:.0f} ms ({} B), html "
      "{:.0f} ms "
      "({:.2f} MB)\n",
      analysis_ms, analysis_cpu_ms, text_ms, text.size(), json_ms, json.size(), html_ms,
      static_cast<double>(html.size()) / 1e6);
  return 0;
}

}  // namespace
}  // namespace ipctrail

int main(int argc, char** argv) {
  return ipctrail::run(argc, argv);
}
