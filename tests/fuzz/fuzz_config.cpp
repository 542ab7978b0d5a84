// The YAML config file: check-config, start and every SIGHUP load it. Whatever the file holds,
// loading must end in a Config or a ConfigError, in bounded time and memory (-timeout,
// -rss_limit_mb and -malloc_limit_mb of scripts/fuzz.sh).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/config_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    ipctrail::parse_config(text, "fuzz.yaml");
  } catch (const ipctrail::ConfigError&) {
  }
  return 0;
}
