// Writing the report where the user asked (`-o FILE`), and nowhere else (DESIGN §8): a path that
// is a symlink or not a regular file is refused, and the file appears whole or not at all.
#pragma once

#include <filesystem>
#include <string_view>

namespace ipctrail {

// Writes `text` to a temporary file beside `path` and renames it over `path`, with mode 0644
// less the umask. Throws ReportError, leaving `path` as it was, when `path` exists and is not a
// regular file (a symlink, a FIFO, a device, a folder) or the write fails.
void write_report_file(const std::filesystem::path& path, std::string_view text);

}  // namespace ipctrail
