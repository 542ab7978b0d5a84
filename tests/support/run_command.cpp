#include "tests/support/run_command.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace ipctrail::testing {

CommandResult run_ipctrail(const std::string& arguments) {
  return run_shell(std::string(IPCTRAIL_BINARY) + " " + arguments);
}

CommandResult run_shell(const std::string& command_line) {
  CommandResult result;
  FILE* pipe = ::popen((command_line + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> chunk{};
  std::size_t got = 0;
  while ((got = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0) {
    result.output.append(chunk.data(), got);
  }
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

CommandResult run_ipctrail_bounded(const std::string& arguments, std::uint64_t max_bytes,
                                   unsigned seconds) {
#if defined(__SANITIZE_ADDRESS__)
  std::string memory;
  (void)max_bytes;
#else
  std::string memory = "ulimit -v " + std::to_string(max_bytes / 1024) + " && ";
#endif
  std::string time = std::to_string(seconds);
  return run_shell(memory + "ulimit -t " + time + " && exec timeout -s KILL " + time + " " +
                   IPCTRAIL_BINARY + " " + arguments);
}

}  // namespace ipctrail::testing
