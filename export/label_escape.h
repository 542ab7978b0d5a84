// Inside export/: label escaping that appends to the exposition being written, sparing a string
// per label (escape_label_value in prometheus.h is the same, returning a string).
#pragma once

#include <string>
#include <string_view>

namespace ipctrail {

void append_escaped_label_value(std::string& out, std::string_view value);

}  // namespace ipctrail
