#include "tests/support/prometheus_support.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace ipctrail::testing {

CommandResult promtool_check_metrics(const std::string& exposition) {
  ScratchDirectory scratch;
  std::filesystem::path file = scratch.path() / "exposition.prom";
  std::ofstream(file, std::ios::binary) << exposition;
  return run_shell(fmt::format("promtool check metrics < '{}'", file.string()));
}

ScratchDirectory::ScratchDirectory() {
  std::string pattern = (std::filesystem::temp_directory_path() / "ipctrail-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

ScratchDirectory::~ScratchDirectory() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

Sample synthetic_sample(std::size_t queues) {
  Sample sample;
  sample.ts_ms = 1'700'000'000'123;
  sample.semaphores = 12;
  sample.semaphore_arrays = 3;
  sample.queues.emplace();
  for (std::size_t i = 0; i < queues; ++i) {
    MessageQueue queue;
    queue.msqid = static_cast<int>(100 + i);
    queue.key = static_cast<std::int32_t>(0x1000 + i);
    queue.messages = i;
    queue.bytes = i * 10;
    sample.queues->push_back(queue);
  }
  sample.shm_segments = 2;
  sample.shm_bytes = 3 * 4096 + 1;
  sample.shm_pages = 4;
  sample.limits = {.semmsl = 32000,
                   .semmns = 1024000000,
                   .semopm = 500,
                   .semmni = 32000,
                   .msgmni = 32000,
                   .msgmnb = 16384,
                   .msgmax = 8192,
                   .shmmni = 4096,
                   .shmall = 18446744073692774399ULL,
                   .shmmax = 18446744073692774399ULL};
  return sample;
}

std::string series_value(const std::string& exposition, const std::string& series) {
  std::string prefix = "\n" + series + " ";
  std::size_t at = exposition.find(prefix);
  if (at == std::string::npos) return "";
  at += prefix.size();
  return exposition.substr(at, exposition.find('\n', at) - at);
}

std::uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error(std::string("no free loopback port: ") + std::strerror(errno));
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

}  // namespace ipctrail::testing
