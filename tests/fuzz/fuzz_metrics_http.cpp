// An HTTP request to /metrics: each input is sent as it is, over loopback, to one MetricsServer
// of this process, and the answer read until the server closes. It goes through whatever HTTP
// library export/ uses, so the harness outlives a change of library. The server's threads are
// instrumented too: a crash, leak or sanitizer report there is a finding.
//
// The client closes its sending side only once the server has read every byte of the input. If
// the end of the stream came with the last bytes, MHD would read both in one go, miss the end,
// and hold the connection (and one of its per-address slots) until its request deadline: each
// input then cost seconds, and past sixteen held slots later inputs were refused unread.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

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

std::uint16_t local_port(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  return ntohs(address.sin_port);
}

std::uint16_t peer_port(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  return ntohs(address.sin_port);
}

// The server's end of the client's connection (the server runs in this process), or -1 while
// the server has not accepted it or has closed it.
int server_end(int client) {
  std::uint16_t client_port = local_port(client);
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ignored)) {
    int fd = std::atoi(entry.path().filename().c_str());
    if (fd != client && peer_port(fd) == client_port && local_port(fd) == server().port()) {
      return fd;
    }
  }
  return -1;
}

// Whether the server has closed the connection (or answered): the client can read.
bool server_spoke(int client) {
  pollfd wait{.fd = client, .events = POLLIN, .revents = 0};
  return ::poll(&wait, 1, 0) > 0;
}

// Waits until the server has read every byte sent, answered, or closed; at most two seconds, as
// a server that stops reading (a request too large) neither reads the rest nor needs to.
void wait_until_read(int client) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline && !server_spoke(client)) {
    int end = server_end(client);
    int unread = 0;
    if (end >= 0 && ::ioctl(end, FIONREAD, &unread) == 0 && unread == 0) return;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
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
    wait_until_read(fd);
    ::shutdown(fd, SHUT_WR);
    char buffer[65536];
    while (::recv(fd, buffer, sizeof buffer, 0) > 0) {
    }
  }
  ::close(fd);
  return 0;
}
