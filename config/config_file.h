// Loading the YAML config file: parse, check every key and value, and merge over the defaults.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "model/settings.h"

namespace ipctrail {

// One line for the operator: "FILE:LINE:COLUMN: key.path: what was expected, got what".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads and validates `path`; keys it leaves out keep their built-in defaults. Throws ConfigError.
Config load_config_file(const std::string& path);

// The same for text already in memory; `source_name` is what errors call the file.
Config parse_config(std::string_view text, const std::string& source_name);

// Every key path the file knows, in file order: "interval", "database.path", ...,
// "alerts.semaphores_used.warn", ..., "notify.timeout".
std::vector<std::string> config_key_paths();

// Command-line flags that take precedence over the file. Each holds the flag's text as typed.
struct ConfigOverrides {
  std::optional<std::string> interval = std::nullopt;       // --interval
  std::optional<std::string> database_path = std::nullopt;  // --db
};

// Applies `flags` on top of `config` with the file's rules; errors name the flag.
void apply_overrides(Config& config, const ConfigOverrides& flags);

// Built-in defaults, then `config_file` when given, then `flags`: what the agent runs with.
Config resolve_config(const std::optional<std::string>& config_file, const ConfigOverrides& flags);

}  // namespace ipctrail
