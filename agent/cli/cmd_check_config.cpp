// `ipctrail check-config FILE`: validate a config file and show what it amounts to.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>

#include "agent/cli/commands.h"
#include "config/config_file.h"
#include "model/units.h"

namespace ipctrail {

namespace {

std::string on_off(bool value) {
  return value ? "on" : "off";
}

std::string threshold(const std::optional<double>& value) {
  return value ? format_number(*value) : "off";
}

std::string failure_names(const std::vector<CallFailure>& failures) {
  std::vector<std::string> names;
  for (const CallFailure& failure : failures) names.push_back(call_failure_name(failure));
  return fmt::format("{}", fmt::join(names, ", "));
}

std::string bpf_text(const Config::Bpf& bpf) {
  std::string_view enabled = bpf.enabled == BpfEnabled::kAuto ? "auto"
                             : bpf.enabled == BpfEnabled::kOn ? "true"
                                                              : "false";
  std::string_view mode = bpf.mode == BpfMode::kAuto         ? "auto"
                          : bpf.mode == BpfMode::kTracepoint ? "tracepoint"
                          : bpf.mode == BpfMode::kKprobe     ? "kprobe"
                                                             : "fentry";
  return fmt::format("enabled {}, mode {}", enabled, mode);
}

std::string summary(const Config& config) {
  std::string out;
  out += fmt::format("interval  {}\n", format_duration(config.interval));
  out += fmt::format("namespaces {} (rescan {})\n",
                     config.namespaces == NamespaceScope::kAll ? "all" : "own",
                     format_duration(config.namespaces_rescan));
  out += fmt::format("database  {} (retention {}, max size {})\n", config.database.path,
                     format_duration(config.database.retention),
                     format_size(config.database.max_size));
  out += fmt::format("collect   semaphores {}, message queues {}, shared memory {}\n",
                     on_off(config.collect.semaphores), on_off(config.collect.message_queues),
                     on_off(config.collect.shared_memory));
  out += fmt::format("bpf       {}\n", bpf_text(config.bpf));
  out += fmt::format("alerts    {:<33} {:>7} {:>6} {:>6} {:>10} {:>6} {:>10}\n", "", "enabled",
                     "every", "warn", "warn_clear", "crit", "crit_clear");
  for (std::string_view name : kAlertNames) {
    const AlertConfig& alert = config.alerts.find(name)->second;
    std::string common = fmt::format("          {:<33} {:>7} {:>6}", name, on_off(alert.enabled),
                                     format_duration(alert.every));
    switch (alert_kind(name)) {
      case AlertKind::kUsage:
        out += fmt::format("{} {:>6} {:>10} {:>6} {:>10}\n", common, format_number(alert.warn),
                           format_number(alert.warn_clear), threshold(alert.crit),
                           threshold(alert.crit_clear));
        break;
      case AlertKind::kCallFailures:
        out += fmt::format("{}  window {}, critical [{}], warning [{}]\n", common,
                           format_duration(alert.window), failure_names(alert.critical_failures),
                           failure_names(alert.warning_failures));
        break;
      case AlertKind::kForecast:
        out += fmt::format("{}  window {}, warn within {}, crit within {}\n", common,
                           format_duration(alert.window), format_duration(alert.warn_within),
                           format_duration(alert.crit_within));
        break;
    }
  }
  std::string exec = "off";
  if (!config.notify.exec.empty()) exec = fmt::format("{}", fmt::join(config.notify.exec, " "));
  out +=
      fmt::format("notify    exec {} (timeout {})\n", exec, format_duration(config.notify.timeout));
  return out;
}

}  // namespace

void add_check_config_command(CLI::App& app, CommandAction& run) {
  auto file = std::make_shared<std::string>();
  CLI::App* command =
      app.add_subcommand("check-config", "Check a configuration file and show the result");
  command->add_option("FILE", *file, "The YAML configuration file")->required();
  command->callback([&run, file] {
    run = [file] {
      Config config;
      try {
        config = load_config_file(*file);
      } catch (const ConfigError& error) {
        std::cerr << error.what() << '\n';
        return kExitUsage;
      }
      std::cout << "OK: " << *file << '\n' << summary(config);
      return kExitOk;
    };
  });
}

}  // namespace ipctrail
