#include "model/listen_address.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>
#include <stdexcept>

namespace ipctrail {

namespace {

[[noreturn]] void refuse(std::string_view text, std::string_view reason) {
  throw std::invalid_argument(fmt::format("listen address \"{}\": {}", text, reason));
}

std::uint16_t parse_port(std::string_view text, std::string_view port) {
  unsigned value = 0;
  auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || error != std::errc() || end != port.data() + port.size() || value == 0 ||
      value > 65535) {
    refuse(text, fmt::format("the port must be a number from 1 to 65535, not \"{}\"", port));
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

bool ListenAddress::is_loopback() const {
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

std::string ListenAddress::to_string() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

ListenAddress parse_listen_address(std::string_view text) {
  constexpr std::string_view kExamples =
      "write HOST:PORT, e.g. 127.0.0.1:19472 for this host only, or 0.0.0.0:19472 or "
      "[::]:19472 for every interface";
  std::string_view host, port;
  if (text.starts_with('[')) {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      refuse(text, "an IPv6 address is written [ADDRESS]:PORT, e.g. [::1]:19472");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) refuse(text, fmt::format("no port; {}", kExamples));
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      refuse(text, "an IPv6 address is written in brackets, e.g. [::1]:19472");
    }
  }
  if (host.empty()) {
    refuse(text,
           fmt::format("no host; every interface is exposed only when written out: {}", kExamples));
  }
  ListenAddress address;
  address.host = host == "localhost" ? "127.0.0.1" : std::string(host);
  address.port = parse_port(text, port);
  in_addr v4{};
  in6_addr v6{};
  if (::inet_pton(AF_INET, address.host.c_str(), &v4) != 1 &&
      ::inet_pton(AF_INET6, address.host.c_str(), &v6) != 1) {
    refuse(text, fmt::format("\"{}\" is not a numeric IP address (host names other than "
                             "localhost are not resolved); {}",
                             host, kExamples));
  }
  return address;
}

}  // namespace ipctrail
