// storage_bench: what the change-only history costs, beside a naive store that writes every value
// of every tick into a plain rowid table. Simulates a day of 1-second ticks with synthetic samples
// whose timestamps advance by one second, so a day takes seconds, not a day.
//
//   storage_bench [--ticks N] [--scale-ticks N] [--scale-changes N] [--dir PATH]
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "agent/daemon/history_charts.h"
#include "bench/bench_support.h"
#include "storage/store.h"

namespace ipctrail {
namespace {

namespace fs = std::filesystem;
using bench::Clock;
using bench::host_sample;
using bench::percentile;

constexpr std::int64_t kStartMs = 1'795'000'000'000;  // 2026-11-19
constexpr std::int64_t kIntervalMs = 1000;

// Changes `count` queues (both their messages and bytes), picked at random.
void churn_queues(Sample& sample, int count, std::mt19937_64& random) {
  auto& queues = *sample.queues;
  for (int i = 0; i < count; ++i) {
    MessageQueue& queue = queues[random() % queues.size()];
    queue.messages = (queue.messages + 1 + random() % 50) % 5000;
    queue.bytes = queue.messages * (64 + random() % 4000);
  }
}

// Every value moves, in the ranges a busy host shows.
void change_everything(Sample& sample, std::mt19937_64& random) {
  sample.semaphores = 1000 + random() % 20000;
  sample.semaphore_arrays = 50 + random() % 500;
  sample.shm_segments = 10 + random() % 200;
  sample.shm_bytes = (1ULL << 30) + random() % (8ULL << 30);
  for (MessageQueue& queue : *sample.queues) {
    queue.messages = random() % 5000;
    queue.bytes = random() % (4 << 20);
  }
  Limits& limits = sample.limits;
  for (auto* limit :
       {&limits.semmsl, &limits.semmns, &limits.semopm, &limits.semmni, &limits.msgmni,
        &limits.msgmnb, &limits.msgmax, &limits.shmmni, &limits.shmall, &limits.shmmax}) {
    *limit = 1000 + random() % 1'000'000;
  }
}

void remove_database(const fs::path& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path.string() + suffix);
}

std::uint64_t file_bytes(const fs::path& path) {
  std::uint64_t total = 0;
  for (const char* suffix : {"", "-wal"}) {
    std::error_code error;
    auto size = fs::file_size(path.string() + suffix, error);
    if (!error) total += size;
  }
  return total;  // measured with the WAL checkpointed into the file and truncated
}

// The reference: every value of every tick as one row of a plain rowid table.
class NaiveStore {
 public:
  explicit NaiveStore(const fs::path& path)
      : db_(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE),
        insert_((prepare(db_), db_),
                "INSERT INTO samples (ts, series_id, value) VALUES (?, ?, ?)") {}

  void write_tick(const TickRecord& tick) {
    db_.exec("BEGIN");
    std::int64_t series_id = 0;
    for (const ChartRecord& record : tick.charts) {
      for (const Dimension& dimension : record.chart.dimensions) {
        insert_.reset();
        insert_.bind(1, tick.ts_ms);
        insert_.bind(2, ++series_id);
        insert_.bind(3, std::get<std::int64_t>(stored_value(dimension.value)));
        insert_.exec();
      }
    }
    db_.exec("COMMIT");
  }

 private:
  static void prepare(SQLite::Database& db) {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("CREATE TABLE IF NOT EXISTS samples (ts INTEGER, series_id INTEGER, value INTEGER)");
  }

  SQLite::Database db_;
  SQLite::Statement insert_;
};

struct Result {
  std::uint64_t growth_bytes = 0;
  std::uint64_t values = 0;  // dimensions reported over all ticks
  std::uint64_t rows = 0;    // values the store actually had to keep
  std::vector<double> write_ms;
};

double mean(const std::vector<double>& values) {
  double sum = 0;
  for (double value : values) sum += value;
  return values.empty() ? 0 : sum / static_cast<double>(values.size());
}

std::uint64_t count_rows(const fs::path& path, const char* table) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  return static_cast<std::uint64_t>(
      db.execAndGet(std::string("SELECT count(*) FROM ") + table).getInt64());
}

// Writes `ticks` ticks of `sample`, changed by `change` before each, into a store of type S. The
// file's size after a first tick (schema, first values) is the baseline of the growth.
template <typename S, typename Change>
Result run(const fs::path& path, Sample sample, int ticks, Change change) {
  remove_database(path);
  TickRecord tick;
  auto make_store = [&path] {
    if constexpr (std::is_same_v<S, Store>) {
      StoreOptions options;
      options.path = path;
      return std::make_unique<Store>(options);
    } else {
      return std::make_unique<S>(path);
    }
  };
  Result result;
  std::uint64_t baseline = 0;
  {
    auto store = make_store();
    // The first tick writes the schema and every value once; growth counts from after it.
    sample.ts_ms = kStartMs - kIntervalMs;
    fill_tick_record(sample, kIntervalMs, tick);
    store->write_tick(tick);
    SQLite::Database(path, SQLite::OPEN_READWRITE).exec("PRAGMA wal_checkpoint(TRUNCATE)");
    baseline = file_bytes(path);
    std::mt19937_64 random(42);
    for (int i = 0; i < ticks; ++i) {
      sample.ts_ms = kStartMs + i * kIntervalMs;
      change(sample, random);
      fill_tick_record(sample, kIntervalMs, tick);
      for (const ChartRecord& record : tick.charts) result.values += record.chart.dimensions.size();
      auto started = Clock::now();
      store->write_tick(tick);
      result.write_ms.push_back(bench::ms_since(started));
    }
  }
  result.growth_bytes = file_bytes(path) - baseline;
  return result;
}

void print_row(const std::string& what, const std::string& ours, const std::string& naive) {
  fmt::print("  {:<44} {:>16} {:>16}\n", what, ours, naive);
}

std::string mib(double bytes) {
  return fmt::format("{:.3f} MiB", bytes / (1 << 20));
}

}  // namespace
}  // namespace ipctrail

int main(int argc, char** argv) {
  using namespace ipctrail;
  int day_ticks = 86400;
  int scale_ticks = 300;
  int scale_changes = 320;
  fs::path dir = fs::temp_directory_path() / "ipctrail-storage-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--ticks") day_ticks = std::atoi(argv[i + 1]);
    if (flag == "--scale-ticks") scale_ticks = std::atoi(argv[i + 1]);
    if (flag == "--dir") dir = argv[i + 1];
    if (flag == "--scale-changes") scale_changes = std::atoi(argv[i + 1]);
  }
  fs::create_directories(dir);
  double day_factor = 86400.0 / day_ticks;
  auto nothing = [](Sample&, std::mt19937_64&) {};

  fmt::print("storage_bench: {} ticks of 1 s ({:.2f} simulated days), files in {}\n\n", day_ticks,
             day_ticks / 86400.0, dir.string());
  fmt::print("  {:<44} {:>16} {:>16}\n", "", "ipctrail", "naive rowid");

  {
    Sample steady = host_sample(10);
    Result ours = run<Store>(dir / "steady.db", steady, day_ticks, nothing);
    Result naive = run<NaiveStore>(dir / "steady-naive.db", steady, day_ticks, nothing);
    fmt::print(
        "steady host: 6 core series + 10 queues + 10 limits, nothing changes (budget 1 MiB)\n");
    print_row("file growth per day", mib(ours.growth_bytes * day_factor),
              mib(naive.growth_bytes * day_factor));
    print_row("ms per tick write (mean)", fmt::format("{:.3f}", mean(ours.write_ms)),
              fmt::format("{:.3f}", mean(naive.write_ms)));
  }
  {
    Sample busy = host_sample(10);
    auto everything = [](Sample& sample, std::mt19937_64& random) {
      change_everything(sample, random);
    };
    Result ours = run<Store>(dir / "busy.db", busy, day_ticks, everything);
    Result naive = run<NaiveStore>(dir / "busy-naive.db", busy, day_ticks, everything);
    std::uint64_t rows = count_rows(dir / "busy.db", "points");
    fmt::print("busy host: same series, every value changes every tick (budget 24 B/value)\n");
    print_row("bytes per stored value, indexes included",
              fmt::format("{:.2f}", static_cast<double>(ours.growth_bytes) / ours.values),
              fmt::format("{:.2f}", static_cast<double>(naive.growth_bytes) / naive.values));
    print_row("file growth per day", mib(ours.growth_bytes * day_factor),
              mib(naive.growth_bytes * day_factor));
    print_row("values stored / rows in points", fmt::format("{}/{}", ours.values, rows), "");
    print_row("ms per tick write (mean)", fmt::format("{:.3f}", mean(ours.write_ms)),
              fmt::format("{:.3f}", mean(naive.write_ms)));
  }
  {
    Sample big = host_sample(32000);
    auto one_percent = [scale_changes](Sample& sample, std::mt19937_64& random) {
      churn_queues(sample, scale_changes, random);
    };
    Result ours = run<Store>(dir / "scale.db", big, scale_ticks, one_percent);
    Result naive = run<NaiveStore>(dir / "scale-naive.db", big, scale_ticks, one_percent);
    fmt::print("32,000 queues, 1% change per tick, {} ticks (budget 20 ms per tick)\n",
               scale_ticks);
    auto figures = [](const Result& result) {
      return fmt::format("{:.2f}/{:.2f}/{:.2f}/{:.2f}", mean(result.write_ms),
                         percentile(result.write_ms, 0.5), percentile(result.write_ms, 0.99),
                         *std::max_element(result.write_ms.begin(), result.write_ms.end()));
    };
    print_row("ms per tick write, mean/p50/p99/max", figures(ours), figures(naive));
    print_row("file growth per day", mib(ours.growth_bytes * 86400.0 / scale_ticks),
              mib(naive.growth_bytes * 86400.0 / scale_ticks));
  }
  fs::remove_all(dir);
  return 0;
}
