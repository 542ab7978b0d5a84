#include "export/label_escape.h"

#include "export/prometheus.h"

namespace ipctrail {

namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

bool is_continuation(unsigned char byte) {
  return (byte & 0xC0) == 0x80;
}

// Length of the well-formed UTF-8 sequence starting at `at` (Unicode table 3-7: no overlong
// forms, no surrogates, nothing above U+10FFFF), or 0 when it is not one.
std::size_t utf8_sequence_length(std::string_view text, std::size_t at) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[at + i]); };
  unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char second_min = 0x80, second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;
    if (lead == 0xED) second_max = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;
    if (lead == 0xF4) second_max = 0x8F;
  } else {
    return 0;
  }
  if (at + length > text.size()) return 0;
  if (byte(1) < second_min || byte(1) > second_max) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (!is_continuation(byte(i))) return 0;
  }
  return length;
}

}  // namespace

void append_escaped_label_value(std::string& out, std::string_view value) {
  std::size_t at = 0;
  while (at < value.size()) {
    switch (value[at]) {
      case '\\':
        out += "\\\\";
        ++at;
        continue;
      case '"':
        out += "\\\"";
        ++at;
        continue;
      case '\n':
        out += "\\n";
        ++at;
        continue;
      default:
        break;
    }
    std::size_t length = utf8_sequence_length(value, at);
    if (length == 0) {
      out += kReplacementCharacter;
      ++at;
    } else {
      out += value.substr(at, length);
      at += length;
    }
  }
}

std::string escape_label_value(std::string_view value) {
  std::string escaped;
  escaped.reserve(value.size());
  append_escaped_label_value(escaped, value);
  return escaped;
}

}  // namespace ipctrail
