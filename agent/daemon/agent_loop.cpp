#include "agent/daemon/agent_loop.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <ctime>
#include <memory>

#include "agent/alerts/alerts.h"
#include "agent/daemon/history_charts.h"
#include "agent/notify/notification_delay.h"
#include "export/prometheus.h"
#include "model/exit_codes.h"
#include "storage/history_file_error.h"
#include "storage/store.h"

namespace ipctrail {

namespace {

using Clock = std::chrono::steady_clock;

// SIGTERM, SIGINT and SIGHUP stay blocked and are taken synchronously between ticks, so a tick
// that is being written always commits before the agent exits, and a reload never lands mid-tick.
class Signals {
 public:
  Signals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set_, &previous_);
  }
  ~Signals() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  Signals(const Signals&) = delete;
  Signals& operator=(const Signals&) = delete;

  enum class Event { kDue, kStop, kReload };

  // Sleeps until `deadline`, or until a signal arrives first.
  Event wait_until(Clock::time_point deadline) {
    for (;;) {
      auto left = deadline - Clock::now();
      if (left < Clock::duration::zero()) left = Clock::duration::zero();
      auto seconds = std::chrono::duration_cast<std::chrono::seconds>(left);
      timespec timeout{static_cast<time_t>(seconds.count()),
                       static_cast<long>(std::chrono::nanoseconds(left - seconds).count())};
      int signal = sigtimedwait(&set_, nullptr, &timeout);
      if (signal == SIGHUP) return Event::kReload;
      if (signal > 0) {
        spdlog::info("received {}, stopping", signal == SIGTERM ? "SIGTERM" : "SIGINT");
        return Event::kStop;
      }
      if (errno == EAGAIN && Clock::now() >= deadline) return Event::kDue;
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

// Publishes each tick's exposition to the Prometheus server and the textfile, when configured.
class Exporter {
 public:
  explicit Exporter(const AgentOptions& options) {
    if (options.prometheus_listen) {
      server_.emplace(MetricsServer::Options{
          .address = parse_listen_address(*options.prometheus_listen),
          .stale_after = 3 * std::max(options.interval, std::chrono::milliseconds(1000))});
      spdlog::info("serving Prometheus metrics at http://{}/metrics",
                   parse_listen_address(*options.prometheus_listen).to_string());
    }
    if (options.textfile_path) textfile_.emplace(*options.textfile_path);
  }

  void publish(const Sample& sample, const AlertEngine& engine) {
    if (!server_ && !textfile_) return;
    std::vector<AlertStatusSeries> alerts;
    for (const AlertState& state : engine.states()) {
      alerts.push_back({std::string(state.alert), std::string(state.chart), state.instance,
                        static_cast<int>(state.status)});
    }
    std::string text = render_exposition({.sample = sample, .alerts = alerts});
    if (textfile_) textfile_->write(text);
    if (server_) server_->publish(std::move(text));
  }

 private:
  std::optional<MetricsServer> server_;
  std::optional<TextfileWriter> textfile_;
};

void log_transitions(const std::vector<AlertTransition>& transitions) {
  for (const AlertTransition& transition : transitions) {
    bool trouble = transition.new_status == AlertStatus::kWarning ||
                   transition.new_status == AlertStatus::kCritical;
    spdlog::log(trouble ? spdlog::level::warn : spdlog::level::info, "alert {}{}{}: {} -> {}: {}",
                transition.alert, transition.instance.empty() ? "" : " ", transition.instance,
                status_name(transition.old_status), status_name(transition.new_status),
                transition.summary);
  }
}

// The parts of the agent built from its options; a reload rebuilds only what changed, so an
// unchanged history file, BPF attachment or listening socket carries on untouched.
struct Components {
  std::unique_ptr<HistoryWriter> writer;
  std::unique_ptr<Collector> collector;
  std::unique_ptr<IpcCallCollector> calls;
  std::unique_ptr<AlertEngine> engine;
  std::unique_ptr<NotificationDelay> delays;
  std::unique_ptr<Notifier> notifier;
  std::unique_ptr<Exporter> exporter;

  // Throws when a part cannot start (BPF required but unavailable, a port taken).
  void build(const AgentOptions& options, const AgentOptions* previous) {
    if (!previous || previous->db_path != options.db_path ||
        previous->retention != options.retention) {
      writer = std::make_unique<HistoryWriter>(options);
    }
    if (!previous || previous->collector != options.collector) {
      collector = std::make_unique<Collector>(options.collector);
    }
    if (!previous || previous->bpf != options.bpf) {
      calls.reset();  // detach first: two attachments would count every call twice
      calls = std::make_unique<IpcCallCollector>(options.bpf);
    }
    if (!engine) {
      engine = std::make_unique<AlertEngine>(options.alerts);
      delays = std::make_unique<NotificationDelay>(options.alerts);
    } else if (previous->alerts != options.alerts) {
      engine->reconfigure(options.alerts);
      delays->reconfigure(options.alerts);
    }
    if (!notifier) {
      notifier = std::make_unique<Notifier>(options.notify);
    } else if (previous->notify != options.notify) {
      notifier->reconfigure(options.notify);
    }
    if (!previous || previous->prometheus_listen != options.prometheus_listen ||
        previous->textfile_path != options.textfile_path ||
        previous->interval != options.interval) {
      exporter.reset();  // release the port before binding it again
      exporter = std::make_unique<Exporter>(options);
    }
  }
};

}  // namespace

int run_agent(const AgentOptions& initial_options, const AgentReloader& reload) {
  Signals signals;
  AgentOptions options = initial_options;
  Components parts;
  try {
    parts.build(options, nullptr);
  } catch (const BpfUnavailable& error) {
    spdlog::error("{}", error.what());
    return kExitFailure;
  } catch (const std::runtime_error& error) {
    spdlog::error("{}", error.what());
    return kExitFailure;
  }
  Sample sample;
  TickRecord tick;
  std::uint64_t skipped = 0;
  spdlog::info("sampling every {}ms into {}", options.interval.count(), options.db_path.string());

  Clock::time_point start = Clock::now();
  std::uint64_t index = 0;
  std::uint64_t ticks = 0;
  while (!options.max_ticks || ticks < *options.max_ticks) {
    Clock::time_point scheduled = start + index * options.interval;
    Signals::Event event = signals.wait_until(scheduled);
    if (event == Signals::Event::kStop) break;
    if (event == Signals::Event::kReload) {
      std::optional<AgentOptions> reloaded = reload ? reload() : std::nullopt;
      if (!reloaded) continue;
      try {
        parts.build(*reloaded, &options);
      } catch (const std::exception& error) {
        // The parts built before the failure run with the new options; the rest keep the old.
        spdlog::error("reload: {}; keeping the running configuration for the rest", error.what());
        continue;
      }
      bool new_schedule = reloaded->interval != options.interval;
      options = std::move(*reloaded);
      spdlog::info("configuration reloaded; sampling every {}ms into {}", options.interval.count(),
                   options.db_path.string());
      if (new_schedule) {
        start = Clock::now();
        index = 0;
      }
      continue;
    }
    parts.collector->collect(sample);
    parts.calls->collect(sample);
    std::vector<AlertTransition> transitions = parts.engine->evaluate(sample, scheduled);
    log_transitions(transitions);
    fill_tick_record(sample, options.interval.count(), tick);
    tick.alert_transitions = transitions;
    try {
      parts.writer->write(tick);
    } catch (const HistoryFileError& error) {
      spdlog::error("{}", error.what());
      return kExitUsage;
    }
    parts.delays->add(transitions, scheduled);
    parts.notifier->notify(parts.delays->take_due(scheduled));
    parts.exporter->publish(sample, *parts.engine);
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
  if (std::size_t held = parts.delays->held(); held > 0 && !options.notify.command.empty()) {
    spdlog::info("notify.exec: {} notifications held by their alert's delay are not sent", held);
  }
  spdlog::info("stopped: {} ticks written, {} dropped, {} skipped, {} with a source unreadable",
               parts.writer->written(), parts.writer->dropped(), skipped,
               parts.collector->faulty_collections());
  return kExitOk;
}

}  // namespace ipctrail
