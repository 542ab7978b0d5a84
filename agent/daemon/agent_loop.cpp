#include "agent/daemon/agent_loop.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <ctime>
#include <map>
#include <memory>

#include "agent/alerts/alerts.h"
#include "agent/daemon/array_creators.h"
#include "agent/daemon/heap_memory.h"
#include "agent/daemon/history_charts.h"
#include "agent/daemon/namespace_watch.h"
#include "agent/daemon/process_record.h"
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

// With every namespace watched, BPF counts every namespace's calls too (docs/design.md §9).
BpfOptions bpf_options(const AgentOptions& options) {
  BpfOptions bpf = options.bpf;
  bpf.every_namespace = options.namespaces == NamespaceScope::kAll;
  return bpf;
}

StoreOptions store_options(const AgentOptions& options) {
  StoreOptions store;
  store.path = options.db_path;
  store.retention = options.retention;
  return store;
}

class HistoryWriter {
 public:
  explicit HistoryWriter(const AgentOptions& options) : store_options_(store_options(options)) {}

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

  // A reload: writes go to `store`, already open on `options.path` (a reload opens a new file
  // before it switches, so that a file it cannot use is refused), or, without one, to the same
  // file reopened at the next tick with the new retention.
  void switch_to(StoreOptions options, std::unique_ptr<Store> store) {
    store_options_ = std::move(options);
    store_ = std::move(store);
    failing_ = false;
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

// Binds /metrics for `options`; throws std::runtime_error naming the address when it cannot.
std::unique_ptr<MetricsServer> start_server(const AgentOptions& options) {
  return std::make_unique<MetricsServer>(MetricsServer::Options{
      .address = parse_listen_address(*options.prometheus_listen),
      .stale_after = 3 * std::max(options.interval, std::chrono::milliseconds(1000))});
}

void log_transitions(const std::vector<AlertTransition>& transitions) {
  for (const AlertTransition& transition : transitions) {
    bool trouble = transition.new_status == AlertStatus::kWarning ||
                   transition.new_status == AlertStatus::kCritical;
    spdlog::log(
        trouble ? spdlog::level::warn : spdlog::level::info, "alert {}{}{}{}{}: {} -> {}: {}",
        transition.alert, transition.instance.empty() ? "" : " ", transition.instance,
        transition.namespace_label.empty() ? "" : " in ", transition.namespace_label,
        status_name(transition.old_status), status_name(transition.new_status), transition.summary);
  }
}

// The parts of the agent built from its options. A reload rebuilds only what changed, so an
// unchanged history file, BPF attachment or listening socket carries on untouched; and it builds
// every new part before it replaces any running one, so a part that cannot start leaves the agent
// running as it was.
class Components {
 public:
  // Throws when a part cannot start (BPF required but unavailable, a port taken).
  explicit Components(const AgentOptions& options)
      : writer_(std::make_unique<HistoryWriter>(options)),
        collector_(std::make_unique<Collector>(options.collector)),
        calls_(std::make_unique<IpcCallCollector>(bpf_options(options))),
        alerts_(options.alerts),
        engine_(std::make_unique<AlertEngine>(options.alerts)),
        delays_(std::make_unique<NotificationDelay>(options.alerts)),
        notifier_(std::make_unique<Notifier>(options.notify)),
        processes_(std::make_unique<ProcessRecorder>()) {
    if (options.prometheus_listen) server_ = start_server(options);
    if (options.textfile_path) textfile_ = std::make_unique<TextfileWriter>(*options.textfile_path);
    namespaces_ = watch_namespaces(options);
  }

  // Moves from `current` to `next`. Throws, having changed nothing, when a new part cannot start:
  // the new history file cannot be created or is not ipctrail's, BPF is required but unavailable,
  // the new address cannot be bound.
  void reload(const AgentOptions& next, const AgentOptions& current) {
    std::unique_ptr<Store> store;
    if (next.db_path != current.db_path) store = std::make_unique<Store>(store_options(next));
    std::unique_ptr<Collector> collector;
    if (next.collector != current.collector)
      collector = std::make_unique<Collector>(next.collector);
    // The new BPF programs attach beside the old ones for a moment; each counts into its own maps.
    std::unique_ptr<IpcCallCollector> calls;
    if (bpf_options(next) != bpf_options(current)) {
      calls = std::make_unique<IpcCallCollector>(bpf_options(next));
    }
    // stale_after follows the interval, so a new interval means a new server too.
    bool new_server = next.prometheus_listen != current.prometheus_listen ||
                      (next.prometheus_listen && next.interval != current.interval);
    // A port cannot be bound twice: the same port is released first and bound again below.
    bool same_port = new_server && next.prometheus_listen && current.prometheus_listen &&
                     parse_listen_address(*next.prometheus_listen).port ==
                         parse_listen_address(*current.prometheus_listen).port;
    std::unique_ptr<MetricsServer> server;
    if (new_server && next.prometheus_listen && !same_port) server = start_server(next);

    // Everything that could fail on the operator's input has been built: switch.
    if (store) {
      writer_->switch_to(store_options(next), std::move(store));
    } else if (next.retention != current.retention) {
      writer_->switch_to(store_options(next), nullptr);
    }
    if (collector) collector_ = std::move(collector);
    if (calls) calls_ = std::move(calls);  // the old programs detach here
    if (next.alerts != current.alerts) {
      engine_->reconfigure(next.alerts);
      for (auto& [inode, engine] : namespace_engines_) engine->reconfigure(next.alerts);
      alerts_ = next.alerts;
      delays_->reconfigure(next.alerts);
    }
    if (next.notify != current.notify) notifier_->reconfigure(next.notify);
    if (new_server) {
      server_ = std::move(server);
      if (same_port) rebind(next);
    }
    if (next.namespaces != current.namespaces ||
        next.namespaces_rescan != current.namespaces_rescan ||
        next.collector != current.collector) {
      namespaces_ = watch_namespaces(next);
    }
    if (next.textfile_path != current.textfile_path) {
      textfile_.reset();
      if (next.textfile_path) textfile_ = std::make_unique<TextfileWriter>(*next.textfile_path);
    }
  }

  void tick(Sample& sample, Clock::time_point scheduled, std::int64_t interval_ms,
            TickRecord& tick) {
    collector_->collect(sample, array_creators_.creators());
    calls_->collect(sample);
    array_creators_.learn(sample);
    std::vector<WatchedNamespace> others;
    if (namespaces_) others = namespaces_->sample(scheduled);
    for (WatchedNamespace& other : others) {
      auto calls = calls_->namespace_calls(static_cast<std::uint32_t>(other.identity.inode),
                                           other.new_incarnation);
      if (other.sample) other.sample->ipc_calls = std::move(calls);
    }
    std::vector<AlertTransition> transitions = engine_->evaluate(sample, scheduled);
    evaluate_namespaces(others, scheduled, transitions);
    log_transitions(transitions);
    fill_tick_record(sample, interval_ms, tick);
    processes_->fill(sample, tick);
    tick.namespaces.clear();
    for (WatchedNamespace& other : others) tick.namespaces.push_back(namespace_tick_record(other));
    tick.alert_transitions = transitions;
    writer_->write(tick);  // throws HistoryFileError: the file is not ours
    delays_->add(transitions, scheduled);
    notifier_->notify(delays_->take_due(scheduled));
    publish(sample, others);
  }

  const HistoryWriter& writer() const { return *writer_; }
  std::uint64_t faulty_collections() const { return collector_->faulty_collections(); }
  std::size_t held_notifications() const { return delays_->held(); }

 private:
  // Each other namespace's alerts against its own limits, by an engine of its own, so that an
  // alert walk in one namespace raises only its instance. An engine lives as long as its namespace
  // incarnation; one not sampled this tick evaluates nothing (its statuses stay).
  void evaluate_namespaces(std::vector<WatchedNamespace>& others, Clock::time_point scheduled,
                           std::vector<AlertTransition>& transitions) {
    std::map<std::uint64_t, std::unique_ptr<AlertEngine>> engines;
    for (WatchedNamespace& other : others) {
      auto found = namespace_engines_.find(other.identity.inode);
      std::unique_ptr<AlertEngine> engine =
          found != namespace_engines_.end() && !other.new_incarnation
              ? std::move(found->second)
              : std::make_unique<AlertEngine>(alerts_);
      if (other.sample) {
        for (AlertTransition& transition : engine->evaluate(*other.sample, scheduled)) {
          transition.namespace_inode = other.identity.inode;
          transition.namespace_label = other.identity.label;
          transitions.push_back(std::move(transition));
        }
      }
      engines.emplace(other.identity.inode, std::move(engine));
    }
    namespace_engines_ = std::move(engines);
  }

  static std::unique_ptr<NamespaceWatch> watch_namespaces(const AgentOptions& options) {
    if (options.namespaces != NamespaceScope::kAll) return nullptr;
    return std::make_unique<NamespaceWatch>(options.collector, options.namespaces_rescan,
                                            options.bpf.enabled != BpfEnabled::kOff);
  }

  // The port was ours a moment ago, so only a process that took it in between makes this fail.
  void rebind(const AgentOptions& next) {
    try {
      server_ = start_server(next);
    } catch (const std::exception& error) {
      spdlog::error("reload: {}; /metrics is off until a reload binds it", error.what());
    }
  }

  // Each tick's exposition to the Prometheus server and the textfile, when configured.
  // Other namespaces' series and alerts carry their ipc_namespace and container labels.
  void publish(const Sample& sample, const std::vector<WatchedNamespace>& others) {
    if (!server_ && !textfile_) return;
    std::vector<AlertStatusSeries> alerts;
    for (const AlertState& state : engine_->states()) {
      alerts.push_back({std::string(state.alert), std::string(state.chart), state.instance,
                        static_cast<int>(state.status)});
    }
    std::vector<NamespaceExposition> namespaces;
    for (const WatchedNamespace& other : others) {
      if (!other.sample) continue;
      NamespaceExposition& exposed =
          namespaces.emplace_back(NamespaceExposition{other.identity.label,
                                                      other.identity.container,
                                                      &*other.sample,
                                                      {},
                                                      other.identity.inode});
      auto engine = namespace_engines_.find(other.identity.inode);
      if (engine == namespace_engines_.end()) continue;
      for (const AlertState& state : engine->second->states()) {
        exposed.alerts.push_back({std::string(state.alert), std::string(state.chart),
                                  state.instance, static_cast<int>(state.status)});
      }
    }
    std::string text =
        render_exposition({.sample = sample, .alerts = alerts, .namespaces = namespaces});
    if (textfile_) textfile_->write(text);
    if (server_) server_->publish(std::move(text));
  }

  std::unique_ptr<HistoryWriter> writer_;
  std::unique_ptr<Collector> collector_;
  std::unique_ptr<IpcCallCollector> calls_;
  AlertConfigs alerts_;  // for the engines of namespaces seen later
  std::unique_ptr<AlertEngine> engine_;
  std::map<std::uint64_t, std::unique_ptr<AlertEngine>> namespace_engines_;  // by inode
  std::unique_ptr<NotificationDelay> delays_;
  std::unique_ptr<Notifier> notifier_;
  std::unique_ptr<ProcessRecorder> processes_;
  ArrayCreatorTracker array_creators_;  // for the leak rules, from the events calls_ reads
  std::unique_ptr<MetricsServer> server_;
  std::unique_ptr<TextfileWriter> textfile_;
  std::unique_ptr<NamespaceWatch> namespaces_;  // with `namespaces: all` only
};

// A SIGHUP's reload in progress: the readings so far and when to take the next (kReloadSettle).
class PendingReload {
 public:
  // What to do with a new reading.
  enum class Verdict { kSettled, kGiveUp, kReadAgain };

  explicit PendingReload(Clock::time_point now) : read_at_(now) {}

  Clock::time_point read_at() const { return read_at_; }

  // Another SIGHUP: the operator asks again, so the readings count from here (a reload given up
  // on a storm's earlier readings would leave the last SIGHUP unanswered).
  void asked_again() { readings_ = 0; }

  Verdict add(ConfigReading reading, Clock::time_point now) {
    ++readings_;
    if (previous_ && *previous_ == reading) return Verdict::kSettled;
    if (readings_ >= kMaxReloadReadings) return Verdict::kGiveUp;
    previous_ = std::move(reading);
    read_at_ = now + kReloadSettle;
    return Verdict::kReadAgain;
  }

 private:
  std::optional<ConfigReading> previous_;
  Clock::time_point read_at_;
  int readings_ = 0;
};

}  // namespace

int run_agent(const AgentOptions& initial_options, const AgentReloader& reload) {
  Signals signals;
  configure_agent_heap();  // before BPF loading, the largest allocation of the agent's life
  AgentOptions options = initial_options;
  std::optional<Components> parts;
  try {
    parts.emplace(options);
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
  std::optional<PendingReload> pending;

  // A settled reading: applied whole, or refused whole with the reason.
  auto apply = [&](const ConfigReading& reading) {
    if (!reading.options) {
      spdlog::error("reload: {}; keeping the running configuration", reading.refusal);
      return;
    }
    try {
      parts->reload(*reading.options, options);
    } catch (const std::exception& error) {
      spdlog::error("reload: {}; keeping the running configuration", error.what());
      return;
    }
    bool new_schedule = reading.options->interval != options.interval;
    options = *reading.options;
    spdlog::info("configuration reloaded; sampling every {}ms into {}", options.interval.count(),
                 options.db_path.string());
    if (new_schedule) {
      start = Clock::now();
      index = 0;
    }
  };

  while (!options.max_ticks || ticks < *options.max_ticks) {
    Clock::time_point scheduled = start + index * options.interval;
    Signals::Event event =
        signals.wait_until(pending ? std::min(scheduled, pending->read_at()) : scheduled);
    if (event == Signals::Event::kStop) break;
    if (event == Signals::Event::kReload) {
      if (!reload) {
        spdlog::warn("SIGHUP: the agent was started without --config; nothing to reload");
      } else if (!pending) {
        spdlog::info("SIGHUP: reading the configuration again");
        pending.emplace(Clock::now());
      } else {
        pending->asked_again();  // its next reading sees the file as it is now anyway
      }
      continue;
    }
    if (pending && Clock::now() >= pending->read_at()) {
      ConfigReading reading = reload();
      switch (pending->add(reading, Clock::now())) {
        case PendingReload::Verdict::kSettled:
          pending.reset();
          apply(reading);
          break;
        case PendingReload::Verdict::kGiveUp:
          pending.reset();
          spdlog::error(
              "reload: the configuration file changed between each of {} readings {}ms apart; "
              "keeping the running configuration (replace the file atomically, then send SIGHUP "
              "again)",
              kMaxReloadReadings, kReloadSettle.count());
          break;
        case PendingReload::Verdict::kReadAgain:
          break;
      }
      continue;
    }
    try {
      parts->tick(sample, scheduled, options.interval.count(), tick);
    } catch (const HistoryFileError& error) {
      spdlog::error("{}", error.what());
      return kExitUsage;
    }
    return_free_heap_pages();
    ++ticks;
    // The next tick is the first scheduled one still in the future.
    auto behind = Clock::now() - start;
    auto due = static_cast<std::uint64_t>(behind / options.interval) + 1;
    if (due > index + 1) {
      skipped += due - index - 1;
      auto took =
          std::chrono::duration_cast<std::chrono::milliseconds>(behind - index * options.interval)
              .count();
      // Said once as a warning: an interval too short for this host leaves a gap in the history
      // at every late tick (each starts a new sampling span), which a person should see; the
      // later ones go to debug, and the count to the stop line.
      if (skipped == due - index - 1) {
        spdlog::warn(
            "a tick took {}ms, longer than the {}ms interval: skipping {} ticks; if this repeats, "
            "the history has a gap at each late tick: raise interval (the stop line counts the "
            "skipped ticks)",
            took, options.interval.count(), due - index - 1);
      } else {
        spdlog::debug("tick took {}ms; skipping {} ticks", took, due - index - 1);
      }
    }
    index = std::max(due, index + 1);
  }
  if (std::size_t held = parts->held_notifications(); held > 0 && !options.notify.command.empty()) {
    spdlog::info("notify.exec: {} notifications held by their alert's delay are not sent", held);
  }
  spdlog::info("stopped: {} ticks written, {} dropped, {} skipped, {} with a source unreadable",
               parts->writer().written(), parts->writer().dropped(), skipped,
               parts->faulty_collections());
  return kExitOk;
}

}  // namespace ipctrail
