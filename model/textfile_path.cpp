#include "model/textfile_path.h"

#include <fmt/format.h>

#include <stdexcept>

namespace ipctrail {

void check_textfile_path(const std::filesystem::path& path) {
  if (path.extension() != ".prom") {
    throw std::invalid_argument(fmt::format(
        "textfile \"{}\": the name must end in .prom, the only files node_exporter's textfile "
        "collector reads",
        path.string()));
  }
  std::filesystem::path directory = path.parent_path().empty() ? "." : path.parent_path();
  std::error_code error;
  if (!std::filesystem::is_directory(directory, error)) {
    throw std::invalid_argument(fmt::format("textfile \"{}\": directory {} does not exist",
                                            path.string(), directory.string()));
  }
}

}  // namespace ipctrail
