// An HTTP request to /metrics: each input is sent as it is, over loopback, to one MetricsServer
// of this process, and the answer read until the server closes. It goes through whatever HTTP
// library export/ uses, so the harness outlives a change of library. The server's threads are
// instrumented too: a crash, leak or sanitizer report there is a finding.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "export/prometheus.h"

namespace {

ipctrail::MetricsServer& server() {
  static std::unique_ptr<ipctrail::MetricsServer> instance = [] {
    auto started = std::make_unique<ipctrail::MetricsServer>(ipctrail::MetricsServer::Options{
        .address = {.host = "127.0.0.1", .port = 0}, .stale_after = {}});
    std::string exposition = "# TYPE ipctrail_up gauge\nipctrail_up 1\n";
    for (int i = 0; i < 100; ++i) {
      exposition += "ipctrail_message_queue_messages{msqid=\"" + std::to_string(i) + "\"} 1\n";
    }
    started->publish(exposition);
    return started;
  }();
  return *instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::uint16_t port = server().port();
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  timeval timeout{2, 0};  // the answer to a request cut short may never come
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    for (std::size_t sent = 0; sent < size;) {
      ssize_t wrote = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
      if (wrote <= 0) break;  // the server answered early and closed
      sent += static_cast<std::size_t>(wrote);
    }
    ::shutdown(fd, SHUT_WR);
    char buffer[65536];
    while (::recv(fd, buffer, sizeof buffer, 0) > 0) {
    }
  }
  ::close(fd);
  return 0;
}
