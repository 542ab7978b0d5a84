#include "config/config_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "config/suggest.h"
#include "model/listen_address.h"
#include "model/textfile_path.h"
#include "model/units.h"

namespace ipctrail {

namespace {

// Limits that keep loading any file bounded in time and memory. The shipped config, every key
// with its comment, is under 4 KiB and about 100 values, 4 levels deep. yaml-cpp 0.7 queues a
// whole flow collection ([...] or {...}) before handing out its first value, about 140 bytes
// of tokens per byte of text: 64 KiB of text stays under 10 MB while parsing.
constexpr std::size_t kMaxFileBytes = 64 << 10;
constexpr int kMaxNodes = 10'000;
constexpr int kMaxDepth = 16;
constexpr Duration kMaxEvery = std::chrono::hours(24);
// A window shorter than a second holds too few samples for a trend or a count to mean anything.
constexpr Duration kMinWindow = std::chrono::seconds(1);
constexpr Duration kMaxForecast = std::chrono::hours(24 * 30);
constexpr Duration kMinNotifyTimeout = std::chrono::milliseconds(100);
constexpr Duration kMaxNotifyTimeout = std::chrono::hours(1);

constexpr std::string_view kDurationExpected =
    "expected a duration such as 100ms, 10s, 5m, 1h or 30d (a plain number is seconds)";
constexpr std::string_view kSizeExpected =
    "expected a size such as 1GiB, 512MiB, 1GB or a number of bytes";

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    default:
      return "nothing";
  }
}

std::string join(const std::vector<std::string>& words) {
  std::string text;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) text += i + 1 == words.size() ? " or " : ", ";
    text += words[i];
  }
  return text;
}

// One value in the file, with where to point when it is wrong. A key left empty ("every:") may
// have no position of its own, so the key's position stands in.
struct Item {
  YAML::Node value;
  YAML::Mark mark;
  std::string path;
};

class Loader;

// The file's shape: a key is either a leaf read into the Config, or a section of keys.
struct Key {
  std::string name;
  std::function<void(Loader&, const Item&, Config&)> read;
  std::vector<Key> children;
};

class Loader {
 public:
  explicit Loader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const YAML::Mark& mark, std::string_view path,
                         std::string_view what) const {
    std::string where = source_;
    if (!mark.is_null()) where += fmt::format(":{}:{}", mark.line + 1, mark.column + 1);
    if (path.empty()) throw ConfigError(fmt::format("{}: {}", where, what));
    throw ConfigError(fmt::format("{}: {}: {}", where, path, what));
  }
  [[noreturn]] void fail(const Item& item, std::string_view what) const {
    fail(item.mark, item.path, what);
  }
  [[noreturn]] void fail_expected(const Item& item, std::string_view expected) const {
    fail(item, fmt::format("{}, got {}", expected, describe(item.value)));
  }

  void read_section(const Item& section, const std::vector<Key>& keys, Config& config) {
    if (section.value.IsNull()) return;  // "database:" with nothing under it keeps the defaults
    if (!section.value.IsMap()) {
      fail_expected(section, section.path.empty()
                                 ? "expected a mapping of settings (key: value lines)"
                                 : "expected a mapping of settings under this key");
    }
    std::set<std::string> present;
    for (const auto& entry : section.value) {
      const YAML::Node& key_node = entry.first;
      std::string name = key_node.IsScalar() ? key_node.Scalar() : std::string();
      if (name.find('\0') != std::string::npos) {
        fail(key_node.Mark(), section.path, "a key holds a NUL character (\\0)");
      }
      std::string path = section.path.empty() ? name : section.path + "." + name;
      const Key* key = find(keys, name);
      if (key == nullptr) {
        fail(key_node.Mark(), path.empty() ? section.path : path, unknown_key(name, keys));
      }
      if (!present.insert(name).second) fail(key_node.Mark(), path, "this key appears twice");
      bool has_own_mark = !entry.second.IsNull() && !entry.second.Mark().is_null();
      Item item{entry.second, has_own_mark ? entry.second.Mark() : key_node.Mark(), path};
      marks_[path] = key_node.Mark();
      if (key->read) {
        refuse_nul(item);
        key->read(*this, item, config);
      } else {
        read_section(item, key->children, config);
      }
    }
  }

  // A "\0" escape makes a text that C calls (open, posix_spawn) would cut short at the NUL.
  void refuse_nul(const Item& item) const {
    auto holds_nul = [](const YAML::Node& node) {
      return node.IsScalar() && node.Scalar().find('\0') != std::string::npos;
    };
    bool nul = holds_nul(item.value);
    if (item.value.IsSequence()) {
      for (const YAML::Node& element : item.value) nul = nul || holds_nul(element);
    }
    if (nul) fail(item, "holds a NUL character (\\0), which would cut the text short");
  }

  // Whether the file sets the key at `path` (as opposed to leaving its default).
  bool sets(const std::string& path) const { return marks_.contains(path); }

  // Errors about two keys together point at the first of them the file sets.
  [[noreturn]] void fail_pair(const std::string& first, const std::string& second,
                              std::string_view what) const {
    for (const std::string& path : {first, second}) {
      if (auto found = marks_.find(path); found != marks_.end()) fail(found->second, path, what);
    }
    fail(YAML::Mark::null_mark(), first, what);
  }

  bool boolean(const Item& item) const {
    bool value = false;
    if (!item.value.IsScalar() || !YAML::convert<bool>::decode(item.value, value)) {
      fail_expected(item, "expected true or false");
    }
    return value;
  }

  double percent(const Item& item) const {
    constexpr std::string_view kExpected = "expected a number from 0 to 100 (percent)";
    double value = 0;
    if (!item.value.IsScalar()) fail_expected(item, kExpected);
    const std::string& text = item.value.Scalar();
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value) ||
        value < 0 || value > 100) {
      fail_expected(item, kExpected);
    }
    return value;
  }

  std::optional<double> percent_or_off(const Item& item) const {
    if (item.value.IsScalar() && item.value.Scalar() == "off") return std::nullopt;
    if (item.value.IsScalar() && !item.value.Scalar().empty() &&
        std::isdigit(static_cast<unsigned char>(item.value.Scalar()[0]))) {
      return percent(item);
    }
    fail_expected(item, "expected off or a number from 0 to 100 (percent)");
  }

  Duration duration(const Item& item, Duration min, Duration max) const {
    std::optional<Duration> value;
    if (item.value.IsScalar()) value = parse_duration(item.value.Scalar());
    if (!value) fail_expected(item, kDurationExpected);
    if (*value < min || *value > max) {
      fail_expected(item, fmt::format("expected a duration from {} to {}", format_duration(min),
                                      format_duration(max)));
    }
    return *value;
  }

  std::uint64_t size(const Item& item) const {
    if (item.value.IsScalar() && item.value.Scalar().starts_with('-')) {
      fail_expected(item, "a size cannot be negative; expected a size such as 1GiB");
    }
    std::optional<std::uint64_t> value;
    if (item.value.IsScalar()) value = parse_size(item.value.Scalar());
    if (!value) fail_expected(item, kSizeExpected);
    if (*value == 0) fail_expected(item, "expected a size above zero");
    return *value;
  }

  std::string text(const Item& item) const {
    if (!item.value.IsScalar() || item.value.Scalar().empty()) {
      fail_expected(item, "expected a non-empty text");
    }
    return item.value.Scalar();
  }

  std::string choice(const Item& item, const std::vector<std::string>& choices) const {
    std::string expected = "expected " + join(choices);
    if (!item.value.IsScalar()) fail_expected(item, expected);
    const std::string& value = item.value.Scalar();
    for (const std::string& candidate : choices) {
      if (value == candidate) return value;
    }
    if (auto close = closest_match(value, choices)) {
      fail(item, fmt::format("{}, got '{}'; did you mean '{}'?", expected, value, *close));
    }
    fail_expected(item, expected);
  }

  // off; on (the default loopback address); or HOST:PORT, checked as the server will read it.
  std::optional<std::string> listen_address(const Item& item) const {
    if (item.value.IsScalar()) {
      const std::string& value = item.value.Scalar();
      if (value == "off" || value == "false") return std::nullopt;
      if (value == "on" || value == "true") return std::string(kDefaultListenAddress);
      try {
        parse_listen_address(value);
        return value;
      } catch (const std::invalid_argument& error) {
        fail(item, fmt::format("expected off, on ({}) or HOST:PORT; {}", kDefaultListenAddress,
                               error.what()));
      }
    }
    fail_expected(item, "expected off, on or HOST:PORT");
  }

  // off, or a .prom file in an existing folder.
  std::optional<std::string> textfile_path(const Item& item) const {
    if (item.value.IsScalar() && item.value.Scalar() == "off") return std::nullopt;
    std::string path = text(item);
    try {
      check_textfile_path(path);
    } catch (const std::invalid_argument& error) {
      fail(item, error.what());
    }
    return path;
  }

  // off, "/path/program", or [/path/program, argument, ...]; never run through a shell.
  std::vector<std::string> command(const Item& item) const {
    constexpr std::string_view kExpected =
        "expected off, an absolute program path, or a list [/path/program, argument, ...]";
    std::vector<std::string> argv;
    if (item.value.IsScalar()) {
      if (item.value.Scalar() == "off") return argv;
      if (item.value.Scalar().find_first_of(" \t") != std::string::npos) {
        fail(item, fmt::format("no shell runs this program, so '{}' would be one file name; write "
                               "the program and its arguments as a list: [/path/program, "
                               "argument, ...]",
                               item.value.Scalar()));
      }
      argv.push_back(item.value.Scalar());
    } else if (item.value.IsSequence() && item.value.size() > 0) {
      for (const YAML::Node& word : item.value) {
        if (!word.IsScalar()) fail_expected(item, kExpected);
        argv.push_back(word.Scalar());
      }
    } else {
      fail_expected(item, kExpected);
    }
    if (!argv[0].starts_with('/')) {
      fail(item, fmt::format("{}; '{}' is not an absolute path (no PATH search is done)", kExpected,
                             argv[0]));
    }
    // As posix_spawn will find it: this very path, a file this user may execute.
    struct stat info {};
    int error = 0;
    if (::stat(argv[0].c_str(), &info) != 0) {
      error = errno;
    } else if (S_ISDIR(info.st_mode)) {
      error = EISDIR;
    } else if (!S_ISREG(info.st_mode)) {
      error = EACCES;
    } else if (::access(argv[0].c_str(), X_OK) != 0) {
      error = errno;
    }
    if (error != 0) fail(item, fmt::format("cannot run {}: {}", argv[0], std::strerror(error)));
    return argv;
  }

 private:
  static const Key* find(const std::vector<Key>& keys, const std::string& name) {
    for (const Key& key : keys) {
      if (key.name == name) return &key;
    }
    return nullptr;
  }

  static std::string unknown_key(const std::string& name, const std::vector<Key>& keys) {
    std::vector<std::string> names;
    for (const Key& key : keys) names.push_back(key.name);
    if (auto close = closest_match(name, names)) {
      return fmt::format("unknown key; did you mean '{}'?", *close);
    }
    return "unknown key; expected one of " + join(names);
  }

  std::string source_;
  std::map<std::string, YAML::Mark> marks_;
};

AlertConfig& alert_of(Config& config, const std::string& name) {
  return config.alerts.at(name);
}

// Netdata's delay multiplier: 1 keeps the delays as they are; below 1 would shrink them.
double delay_multiplier(const Loader& loader, const Item& item) {
  constexpr std::string_view kExpected = "expected a number from 1 to 100";
  double value = 0;
  if (!item.value.IsScalar()) loader.fail_expected(item, kExpected);
  const std::string& text = item.value.Scalar();
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value) ||
      value < 1 || value > 100) {
    loader.fail_expected(item, kExpected);
  }
  return value;
}

// ipc_call_failures' critical and warning lists: failures named call_ERRNO, as the
// system.ipc_call_errors chart names them (semget_ENOSPC, msgsnd_EAGAIN).
std::vector<CallFailure> call_failures(const Loader& loader, const Item& item) {
  constexpr std::string_view kExpected =
      "expected a list of failures named call_ERRNO such as [semget_ENOSPC, msgsnd_EAGAIN]";
  if (!item.value.IsSequence()) loader.fail_expected(item, kExpected);
  std::vector<std::string> known;
  std::vector<CallFailure> failures;
  for (std::size_t call = 0; call < kIpcCallCount; ++call) {
    for (std::size_t error = 0; error < kErrnoClassCount; ++error) {
      known.push_back(
          call_failure_name({static_cast<IpcCall>(call), static_cast<ErrnoClass>(error)}));
    }
  }
  for (const YAML::Node& entry : item.value) {
    if (!entry.IsScalar()) loader.fail_expected(item, kExpected);
    auto found = std::find(known.begin(), known.end(), entry.Scalar());
    if (found == known.end()) {
      std::string what = fmt::format("unknown failure '{}'; {}", entry.Scalar(), kExpected);
      if (auto close = closest_match(entry.Scalar(), known)) {
        what = fmt::format("unknown failure '{}'; did you mean '{}'?", entry.Scalar(), *close);
      }
      loader.fail(item, what);
    }
    auto index = static_cast<std::size_t>(found - known.begin());
    CallFailure failure{static_cast<IpcCall>(index / kErrnoClassCount),
                        static_cast<ErrnoClass>(index % kErrnoClassCount)};
    if (std::find(failures.begin(), failures.end(), failure) != failures.end()) {
      loader.fail(item, fmt::format("'{}' is listed twice", entry.Scalar()));
    }
    failures.push_back(failure);
  }
  return failures;
}

// A leaf key of alert `name`: `read` turns the item into the value kept at `field` (a member of
// the alert, or with `section` of one of its sections).
template <typename Section, typename Value, typename Read>
Key alert_leaf(std::string key, const std::string& name, Section AlertConfig::*section,
               Value Section::*field, Read read) {
  return {std::move(key),
          [name, section, field, read](Loader& l, const Item& i, Config& c) {
            alert_of(c, name).*section.*field = read(l, i);
          },
          {}};
}

template <typename Value, typename Read>
Key alert_leaf(std::string key, const std::string& name, Value AlertConfig::*field, Read read) {
  return {std::move(key),
          [name, field, read](Loader& l, const Item& i, Config& c) {
            alert_of(c, name).*field = read(l, i);
          },
          {}};
}

auto duration_between(Duration low, Duration high) {
  return [low, high](Loader& l, const Item& i) { return l.duration(i, low, high); };
}

// The keys of one alert: those all alerts take, and those of its kind (model/settings.h).
std::vector<Key> alert_keys(const std::string& name) {
  auto boolean = [](Loader& l, const Item& i) { return l.boolean(i); };
  auto percent = [](Loader& l, const Item& i) { return l.percent(i); };
  auto percent_or_off = [](Loader& l, const Item& i) { return l.percent_or_off(i); };
  using A = AlertConfig;
  std::vector<Key> keys{
      alert_leaf("enabled", name, &A::enabled, boolean),
      alert_leaf("every", name, &A::every, duration_between(kMinInterval, kMaxEvery)),
  };
  switch (alert_kind(name)) {
    case AlertKind::kUsage:
      keys.insert(keys.end(), {
                                  alert_leaf("warn", name, &A::warn, percent),
                                  alert_leaf("warn_clear", name, &A::warn_clear, percent),
                                  alert_leaf("crit", name, &A::crit, percent_or_off),
                                  alert_leaf("crit_clear", name, &A::crit_clear, percent_or_off),
                              });
      break;
    case AlertKind::kCallFailures:
      keys.insert(
          keys.end(),
          {
              alert_leaf("window", name, &A::window, duration_between(kMinWindow, kMaxEvery)),
              alert_leaf("critical", name, &A::critical_failures, call_failures),
              alert_leaf("warning", name, &A::warning_failures, call_failures),
          });
      break;
    case AlertKind::kForecast:
      keys.insert(keys.end(), {
                                  alert_leaf("window", name, &A::window,
                                             duration_between(kMinWindow, kMaxEvery)),
                                  alert_leaf("warn_within", name, &A::warn_within,
                                             duration_between(Duration::zero(), kMaxForecast)),
                                  alert_leaf("crit_within", name, &A::crit_within,
                                             duration_between(Duration::zero(), kMaxForecast)),
                              });
      break;
  }
  auto delay_duration = duration_between(Duration::zero(), kMaxEvery);
  keys.push_back(
      {"delay",
       nullptr,
       {
           alert_leaf("up", name, &A::delay, &NotifyDelay::up, delay_duration),
           alert_leaf("down", name, &A::delay, &NotifyDelay::down, delay_duration),
           alert_leaf("multiplier", name, &A::delay, &NotifyDelay::multiplier, delay_multiplier),
           alert_leaf("max", name, &A::delay, &NotifyDelay::max, delay_duration),
       }});
  return keys;
}

// leaks.ignore_keys: a list of IPC keys, as ipcs prints them (0x0000162e) or in decimal.
std::vector<std::int32_t> leak_keys(Loader& loader, const Item& item) {
  constexpr std::string_view kExpected =
      "expected a list of IPC keys such as [0x0000162e, 5678] (hex as ipcs prints them, or "
      "decimal)";
  std::vector<std::int32_t> keys;
  if (!item.value.IsSequence()) loader.fail_expected(item, kExpected);
  for (const YAML::Node& entry : item.value) {
    if (!entry.IsScalar()) loader.fail_expected(item, kExpected);
    std::string_view text = entry.Scalar();
    bool hex = text.starts_with("0x") || text.starts_with("0X");
    if (hex) text.remove_prefix(2);
    std::int64_t value = 0;
    auto [end, error] =
        std::from_chars(text.data(), text.data() + text.size(), value, hex ? 16 : 10);
    bool fits =
        hex ? value >= 0 && value <= 0xffffffffLL : value >= INT32_MIN && value <= INT32_MAX;
    if (text.empty() || error != std::errc() || end != text.data() + text.size() || !fits) {
      loader.fail_expected(item, kExpected);
    }
    keys.push_back(static_cast<std::int32_t>(static_cast<std::uint32_t>(value)));
  }
  return keys;
}

BpfEnabled bpf_enabled(Loader& loader, const Item& item) {
  if (item.value.IsScalar() && item.value.Scalar() == "auto") return BpfEnabled::kAuto;
  bool value = false;
  if (!item.value.IsScalar() || !YAML::convert<bool>::decode(item.value, value)) {
    loader.fail_expected(item, "expected auto, true or false");
  }
  return value ? BpfEnabled::kOn : BpfEnabled::kOff;
}

BpfMode bpf_mode(Loader& loader, const Item& item) {
  std::string mode = loader.choice(item, {"auto", "tracepoint", "fentry", "kprobe"});
  if (mode == "tracepoint") return BpfMode::kTracepoint;
  if (mode == "fentry") return BpfMode::kFentry;
  if (mode == "kprobe") return BpfMode::kKprobe;
  return BpfMode::kAuto;
}

const std::vector<Key>& schema() {
  static const std::vector<Key> keys = [] {
    std::vector<Key> alerts;
    for (std::string_view name : kAlertNames) {
      alerts.push_back({std::string(name), nullptr, alert_keys(std::string(name))});
    }
    return std::vector<Key>{
        {"interval",
         [](Loader& l, const Item& i, Config& c) {
           c.interval = l.duration(i, kMinInterval, kMaxInterval);
         },
         {}},
        {"namespaces",
         [](Loader& l, const Item& i, Config& c) {
           c.namespaces =
               l.choice(i, {"own", "all"}) == "all" ? NamespaceScope::kAll : NamespaceScope::kOwn;
         },
         {}},
        {"namespaces_rescan",
         [](Loader& l, const Item& i, Config& c) {
           c.namespaces_rescan = l.duration(i, kMinNamespacesRescan, kMaxNamespacesRescan);
         },
         {}},
        {"database",
         nullptr,
         {
             {"path", [](Loader& l, const Item& i, Config& c) { c.database.path = l.text(i); }, {}},
             {"retention",
              [](Loader& l, const Item& i, Config& c) {
                c.database.retention = l.duration(i, std::chrono::minutes(1), Duration::max());
              },
              {}},
             {"max_size",
              [](Loader& l, const Item& i, Config& c) { c.database.max_size = l.size(i); },
              {}},
         }},
        {"collect",
         nullptr,
         {
             {"semaphores",
              [](Loader& l, const Item& i, Config& c) { c.collect.semaphores = l.boolean(i); },
              {}},
             {"message_queues",
              [](Loader& l, const Item& i, Config& c) { c.collect.message_queues = l.boolean(i); },
              {}},
             {"shared_memory",
              [](Loader& l, const Item& i, Config& c) { c.collect.shared_memory = l.boolean(i); },
              {}},
         }},
        {"leaks",
         nullptr,
         {
             {"enabled",
              [](Loader& l, const Item& i, Config& c) { c.leaks.enabled = l.boolean(i); },
              {}},
             {"min_age",
              [](Loader& l, const Item& i, Config& c) {
                c.leaks.min_age = l.duration(i, Duration(0), std::chrono::hours(24 * 365));
              },
              {}},
             {"ignore_keys",
              [](Loader& l, const Item& i, Config& c) { c.leaks.ignore_keys = leak_keys(l, i); },
              {}},
         }},
        {"bpf",
         nullptr,
         {
             {"enabled",
              [](Loader& l, const Item& i, Config& c) { c.bpf.enabled = bpf_enabled(l, i); },
              {}},
             {"mode", [](Loader& l, const Item& i, Config& c) { c.bpf.mode = bpf_mode(l, i); }, {}},
         }},
        {"alerts", nullptr, std::move(alerts)},
        {"notify",
         nullptr,
         {
             {"exec",
              [](Loader& l, const Item& i, Config& c) { c.notify.exec = l.command(i); },
              {}},
             {"timeout",
              [](Loader& l, const Item& i, Config& c) {
                c.notify.timeout = l.duration(i, kMinNotifyTimeout, kMaxNotifyTimeout);
              },
              {}},
         }},
        {"export",
         nullptr,
         {
             {"prometheus",
              nullptr,
              {
                  {"listen",
                   [](Loader& l, const Item& i, Config& c) {
                     c.exporting.prometheus_listen = l.listen_address(i);
                   },
                   {}},
              }},
             {"textfile",
              nullptr,
              {
                  {"path",
                   [](Loader& l, const Item& i, Config& c) {
                     c.exporting.textfile_path = l.textfile_path(i);
                   },
                   {}},
              }},
         }},
    };
  }();
  return keys;
}

// Checks the keys of each alert together; `crit: off` alone also switches off the default
// crit_clear, which would mean nothing without crit.
void check_alerts(const Loader& loader, Config& config) {
  for (auto& [name, alert] : config.alerts) {
    std::string base = "alerts." + name + ".";
    if (alert.warn_within < alert.crit_within) {
      loader.fail_pair(
          base + "warn_within", base + "crit_within",
          fmt::format("warn_within ({}) must be >= crit_within ({}): a limit nearer "
                      "than crit_within is CRITICAL, so it would never be WARNING",
                      format_duration(alert.warn_within), format_duration(alert.crit_within)));
    }
    for (const CallFailure& failure : alert.critical_failures) {
      if (std::find(alert.warning_failures.begin(), alert.warning_failures.end(), failure) ==
          alert.warning_failures.end()) {
        continue;
      }
      loader.fail_pair(base + "warning", base + "critical",
                       fmt::format("'{}' is listed in both critical and warning; list it in one",
                                   call_failure_name(failure)));
    }
    if (alert.warn < alert.warn_clear) {
      loader.fail_pair(base + "warn", base + "warn_clear",
                       fmt::format("warn ({}) must be >= warn_clear ({}): an alert raised above "
                                   "warn clears at or below warn_clear",
                                   format_number(alert.warn), format_number(alert.warn_clear)));
    }
    if (alert.crit_clear && !alert.crit && !loader.sets(base + "crit_clear")) {
      alert.crit_clear.reset();
    }
    if (alert.crit && alert.warn > *alert.crit) {
      loader.fail_pair(base + "warn", base + "crit",
                       fmt::format("warn ({}) must be <= crit ({}): above crit the alert is "
                                   "CRITICAL, so it would never rise to WARNING",
                                   format_number(alert.warn), format_number(*alert.crit)));
    }
    if (alert.crit_clear && !alert.crit) {
      loader.fail_pair(base + "crit_clear", base + "crit",
                       "crit_clear is set but crit is off; set crit as well, or remove crit_clear");
    }
    if (alert.crit && alert.crit_clear && *alert.crit < *alert.crit_clear) {
      loader.fail_pair(base + "crit", base + "crit_clear",
                       fmt::format("crit ({}) must be >= crit_clear ({})",
                                   format_number(*alert.crit), format_number(*alert.crit_clear)));
    }
    for (auto [key, delay] : {std::pair{"up", alert.delay.up}, {"down", alert.delay.down}}) {
      if (alert.delay.max >= delay) continue;
      loader.fail_pair(base + "delay.max", base + "delay." + key,
                       fmt::format("delay.max ({}) must be >= delay.{} ({}): max caps the "
                                   "multiplied delays",
                                   format_duration(alert.delay.max), key, format_duration(delay)));
    }
  }
}

void collect_paths(const std::vector<Key>& keys, const std::string& prefix,
                   std::vector<std::string>& paths) {
  for (const Key& key : keys) {
    std::string path = prefix.empty() ? key.name : prefix + "." + key.name;
    if (key.read) {
      paths.push_back(path);
    } else {
      collect_paths(key.children, path, paths);
    }
  }
}

std::string_view file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a file";
}

// Only a regular file, and only up to kMaxFileBytes of it. O_NONBLOCK: opening a FIFO does not
// wait for a writer (and the check below refuses it before any read).
std::string read_whole_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) throw ConfigError(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  auto refuse = [fd, &path](std::string_view why) {
    ::close(fd);
    throw ConfigError(fmt::format("cannot read {}: {}", path, why));
  };
  struct stat info {};
  if (::fstat(fd, &info) != 0) refuse(std::strerror(errno));
  if (S_ISDIR(info.st_mode)) refuse(std::strerror(EISDIR));
  if (!S_ISREG(info.st_mode)) {
    refuse(fmt::format("not a regular file ({})", file_kind(info.st_mode)));
  }
  std::string too_large = fmt::format("larger than {} bytes, not a config file", kMaxFileBytes);
  if (static_cast<std::uint64_t>(info.st_size) > kMaxFileBytes) refuse(too_large);
  std::string text;
  char buffer[16384];
  for (;;) {
    ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) refuse(std::strerror(errno));
    if (got == 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
    if (text.size() > kMaxFileBytes) refuse(too_large);  // it grew since fstat
  }
  ::close(fd);
  return text;
}

// Where byte `offset` of `text` is, as yaml-cpp counts (from 0).
YAML::Mark mark_at(std::string_view text, std::size_t offset) {
  std::string_view before = text.substr(0, offset);
  std::size_t line_start = before.rfind('\n');
  line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
  YAML::Mark mark;
  mark.pos = static_cast<int>(offset);
  mark.line = static_cast<int>(std::count(before.begin(), before.end(), '\n'));
  mark.column = static_cast<int>(offset - line_start);
  return mark;
}

// yaml-cpp's messages may carry its end-of-input marker (\x04) or a control character of the
// file: shown escaped, the error stays one printable line.
std::string printable(std::string_view text) {
  std::string out;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    out += byte < 0x20 || byte == 0x7f ? fmt::format("\\x{:02x}", byte) : std::string(1, c);
  }
  return out;
}

// Walks the file's YAML events before any node is built, refusing what would make building
// them, or reading them, unbounded: aliases (each *name is a copy of what &name holds, so a
// short file expands to gigabytes), too many values, too deep a nesting, more than one
// document, and yaml-cpp 0.7 stuck on a token: after a stray ',' its parser reports an empty
// document without moving on, forever (LoadAll then fills the memory).
class EventCheck : public YAML::EventHandler {
 public:
  EventCheck(const Loader& loader, std::string_view text) : loader_(loader), text_(text) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (documents_ > 0 && mark.pos <= last_document_pos_) {
      std::size_t at = static_cast<std::size_t>(mark.pos);
      std::string what = at < text_.size()
                             ? fmt::format("unexpected '{}'", printable(text_.substr(at, 1)))
                             : std::string("unexpected end of file");
      loader_.fail(mark, "", "not valid YAML: " + what);
    }
    last_document_pos_ = mark.pos;
    ++documents_;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    loader_.fail(mark, "",
                 "YAML aliases (*name) are not accepted in a config file; write the value out");
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    node(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    open(mark);
  }
  void OnSequenceEnd() override { --depth_; }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    open(mark);
  }
  void OnMapEnd() override { --depth_; }

  int documents() const { return documents_; }
  // Where the second document's content starts, for the error that there are several.
  const YAML::Mark& second_document() const { return second_document_; }

 private:
  void node(const YAML::Mark& mark) {
    if (documents_ == 2 && second_document_.is_null()) second_document_ = mark;
    if (++nodes_ > kMaxNodes) {
      loader_.fail(mark, "",
                   fmt::format("more than {} values; a config file has about 100", kMaxNodes));
    }
  }
  void open(const YAML::Mark& mark) {
    node(mark);
    if (++depth_ > kMaxDepth) {
      loader_.fail(
          mark, "",
          fmt::format("nested more than {} levels deep; a config file has at most 4", kMaxDepth));
    }
  }

  const Loader& loader_;
  std::string_view text_;
  int documents_ = 0;
  int last_document_pos_ = -1;
  YAML::Mark second_document_ = YAML::Mark::null_mark();
  int nodes_ = 0;
  int depth_ = 0;
};

}  // namespace

Config parse_config(std::string_view text, const std::string& source_name) {
  Loader loader(source_name);
  if (text.size() > kMaxFileBytes) {
    loader.fail(YAML::Mark::null_mark(), "",
                fmt::format("larger than {} bytes, not a config file", kMaxFileBytes));
  }
  if (std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
    loader.fail(mark_at(text, nul), "", "holds a NUL byte; a config file is text");
  }
  // yaml-cpp 0.7 raises "illegal EOF in scalar" only when the file ends in the middle of a line
  // of a quoted text: when line breaks follow, the text quietly ends with the file, and a
  // forgotten closing quote swallowed the rest of it. Without the trailing blanks the end of
  // the file is always in the middle of a line.
  std::size_t last = text.find_last_not_of(" \t\r\n");
  std::string yaml(text.substr(0, last == std::string_view::npos ? 0 : last + 1));
  YAML::Node document;
  try {
    std::istringstream stream(yaml);
    YAML::Parser parser(stream);
    EventCheck check(loader, yaml);
    while (parser.HandleNextDocument(check)) {
    }
    if (check.documents() > 1) {
      loader.fail(check.second_document(), "",
                  fmt::format("holds {} YAML documents; expected one", check.documents()));
    }
    // Within what the check allows: one document, kMaxNodes nodes, no alias.
    document = YAML::Load(yaml);
  } catch (const YAML::Exception& error) {
    std::string what = printable(error.msg);
    // A backslash as the last character: yaml-cpp reads its end-of-input marker as the escape.
    bool escape_at_end = error.msg.starts_with(YAML::ErrorMsg::INVALID_ESCAPE) &&
                         static_cast<std::size_t>(error.mark.pos) >= yaml.size();
    if (error.msg == YAML::ErrorMsg::EOF_IN_SCALAR || escape_at_end) {
      what = "the file ends inside a quoted text (a closing quote is missing)";
    }
    loader.fail(error.mark, "", "not valid YAML: " + what);
  }
  Config config;
  if (document.IsNull()) return config;
  YAML::Mark start;
  start.line = 0;
  start.column = 0;
  loader.read_section({document, start, ""}, schema(), config);
  check_alerts(loader, config);
  return config;
}

Config load_config_file(const std::string& path) {
  return parse_config(read_whole_file(path), path);
}

std::vector<std::string> config_key_paths() {
  std::vector<std::string> paths;
  collect_paths(schema(), "", paths);
  return paths;
}

void apply_overrides(Config& config, const ConfigOverrides& flags) {
  if (flags.interval) {
    std::optional<Duration> interval = parse_duration(*flags.interval);
    if (!interval) {
      throw ConfigError(
          fmt::format("--interval: {}, got '{}'", kDurationExpected, *flags.interval));
    }
    if (*interval < kMinInterval || *interval > kMaxInterval) {
      throw ConfigError(fmt::format("--interval: expected a duration from {} to {}, got '{}'",
                                    format_duration(kMinInterval), format_duration(kMaxInterval),
                                    *flags.interval));
    }
    config.interval = *interval;
  }
  if (flags.database_path) {
    if (flags.database_path->empty()) throw ConfigError("--db: expected a file path, got ''");
    config.database.path = *flags.database_path;
  }
}

Config resolve_config(const std::optional<std::string>& config_file, const ConfigOverrides& flags) {
  Config config = config_file ? load_config_file(*config_file) : Config{};
  apply_overrides(config, flags);
  return config;
}

}  // namespace ipctrail
