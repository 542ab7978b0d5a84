#include "agent/collect/process_stat.h"

#include <charconv>

namespace ipctrail {

std::optional<std::uint64_t> parse_process_start_ticks(std::string_view stat_text) {
  std::size_t close = stat_text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat_text.substr(close + 1);
  for (int field = 3; field < 22; ++field) {
    std::size_t space = rest.find(' ', 1);
    if (space == std::string_view::npos) return std::nullopt;
    rest = rest.substr(space);
  }
  rest.remove_prefix(1);
  std::uint64_t start_ticks = 0;
  auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), start_ticks);
  if (error != std::errc{} || end == rest.data()) return std::nullopt;
  return start_ticks;
}

}  // namespace ipctrail
