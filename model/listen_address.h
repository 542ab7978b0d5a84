// Where the Prometheus endpoint listens, as people write it in the config file: parsed and checked
// here so the config loader and the exporter agree without depending on each other.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ipctrail {

inline constexpr std::uint16_t kDefaultMetricsPort = 19472;
inline constexpr std::string_view kDefaultListenAddress = "127.0.0.1:19472";

struct ListenAddress {
  std::string host;  // numeric IPv4 or IPv6 (without brackets)
  std::uint16_t port = kDefaultMetricsPort;

  bool is_loopback() const;
  std::string to_string() const;  // "127.0.0.1:19472", "[::1]:19472"
};

// Parses "HOST:PORT" with a numeric host ("127.0.0.1", "[::1]", "0.0.0.0", "[::]") or
// "localhost". Every other interface is exposed only when written out: ":19472" or a bare port is
// refused. Throws std::invalid_argument saying what was expected.
ListenAddress parse_listen_address(std::string_view text);

}  // namespace ipctrail
