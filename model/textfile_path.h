// Where the Prometheus textfile may go, checked when the configuration is loaded (config/) so a
// bad path is refused at start rather than failing every tick in the exporter (export/).
#pragma once

#include <filesystem>

namespace ipctrail {

// Throws std::invalid_argument unless the name ends in ".prom" (the only files node_exporter
// reads) and the directory exists.
void check_textfile_path(const std::filesystem::path& path);

}  // namespace ipctrail
