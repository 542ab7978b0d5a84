// Prometheus export: the text exposition (format 0.0.4) of one tick, the HTTP server that serves
// the latest published exposition at /metrics, and the atomic textfile for node_exporter's
// textfile collector. It reads nothing itself: the agent renders once per tick and hands the
// text over, so a scrape never touches /proc or the database.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/listen_address.h"
#include "model/sample.h"

namespace ipctrail {

// ---- Exposition ----

// One alert instance's current status as Netdata numbers it: REMOVED -2, UNDEFINED -1,
// UNINITIALIZED 0, CLEAR 1, RAISED 2, WARNING 3, CRITICAL 4. The alert engine owns the statuses;
// the exposition only carries the number.
struct AlertStatusSeries {
  std::string alert;  // "semaphores_used"
  std::string chart;  // "system.ipc_semaphores"
  // The instance the alert runs on; exported as label alert_instance, because Prometheus itself
  // sets `instance` (the scraped target) and would rename ours.
  std::string instance;
  int status = 0;
};

// Another IPC namespace's sample (docs/design.md §9): its series carry `ipc_namespace` (the
// namespace's label) and `container` (the container id or pod uid) where known, so the agent's
// own series keep their label sets.
// Two namespaces whose owners have one name (two `unshare --ipc` in one unit's cgroup) would write
// the same series twice, of which Prometheus keeps one: each of them then has its inode appended,
// "session-3.scope ipc:[4026532305]".
struct NamespaceExposition {
  std::string ipc_namespace;
  std::string container;  // empty: no container label
  const Sample* sample = nullptr;
  std::vector<AlertStatusSeries> alerts;  // its own alert instances
  std::uint64_t inode = 0;                // of ipc:[<inode>]
};

// BPF call counts come from sample.ipc_calls, as cumulative totals (Prometheus derives rates).
struct ExpositionInput {
  const Sample& sample;
  std::span<const AlertStatusSeries> alerts = {};        // empty when alerts are off
  std::span<const NamespaceExposition> namespaces = {};  // with `namespaces: all`
};

inline constexpr std::string_view kExpositionContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// The whole exposition; families without a value (a part that was not collected) are left out.
std::string render_exposition(const ExpositionInput& input);
// What is served before the first collection: ipctrail_up 0.
std::string render_not_ready_exposition();

// Label value escaping of the text format (backslash, double quote, newline); invalid UTF-8,
// which would make Prometheus reject the whole scrape, becomes U+FFFD.
std::string escape_label_value(std::string_view value);

// ---- HTTP server ----

// Serves GET /metrics (the latest published exposition) and GET /health; everything else is 404.
// Until the first publish, /metrics says ipctrail_up 0 and /health answers 503.
// Bounded against hostile clients: a few threads, at most 64 connections (16 per client address),
// 32 KiB of request per connection, 5 s per request however slowly it trickles, Range ignored.
class MetricsServer {
 public:
  struct Options {
    ListenAddress address;  // port 0 binds a free port (tests)
    // /health answers 503 when no exposition was published for this long (0: never stale);
    // the agent sets a few tick intervals so that a stuck loop shows.
    std::chrono::milliseconds stale_after{0};
  };

  // Binds and starts serving on its own threads; throws std::runtime_error naming the address
  // when it cannot bind. Ignores SIGPIPE process-wide: a scraper hanging up must not kill us.
  explicit MetricsServer(Options options);
  ~MetricsServer();  // stops serving
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Thread-safe; scrapes in flight keep the text they started with.
  void publish(std::string exposition);
  std::uint16_t port() const;  // the bound port

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// ---- Textfile ----

// Writes `text` to `path` so that a reader sees the old or the new file, never a part: a temp file
// in the same directory (not *.prom, so node_exporter skips it), fsync, rename, fsync of the
// directory. Throws std::system_error naming the file; the old file is kept and the temp removed.
void write_file_atomically(const std::filesystem::path& path, std::string_view text);

// The agent's textfile output: never throws, logs the first failure and the recovery only, so a
// full disk costs one log line, not one per tick.
class TextfileWriter {
 public:
  explicit TextfileWriter(std::filesystem::path path) : path_(std::move(path)) {}
  bool write(std::string_view exposition);  // true when the file now holds `exposition`

 private:
  std::filesystem::path path_;
  bool failing_ = false;
};

}  // namespace ipctrail
