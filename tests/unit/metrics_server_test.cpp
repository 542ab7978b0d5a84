// The /metrics server on loopback: what it serves, what it refuses, scrapes racing publishes, and
// hostile clients (range amplification, connection floods, slow clients) that must not take the
// agent's memory, descriptors or threads.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "export/prometheus.h"
#include "model/unique_fd.h"
#include "tests/support/prometheus_support.h"

namespace ipctrail {
namespace {

using testing::series_value;
using testing::synthetic_sample;

MetricsServer::Options loopback_any_port() {
  return {.address = {.host = "127.0.0.1", .port = 0}};
}

using namespace std::chrono_literals;

// ---- Raw sockets and /proc: the attacks below need more control than an HTTP client gives ----

// Waits for `condition`, checking every 10 ms for at most `limit`; true when it held.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit = 30s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// 127.0.0.0/8 is all this host: a client bound to 127.0.0.N looks like another host to the
// server's per-address limit.
in_addr_t loopback_address(unsigned n) {
  return htonl(0x7f000000u | n);
}

// A connection from 127.0.0.`source` to the server on 127.0.0.1.
UniqueFd connect_to(std::uint16_t port, unsigned source = 1) {
  UniqueFd socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_GE(socket.get(), 0) << std::strerror(errno);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = loopback_address(source);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = loopback_address(1);
  EXPECT_EQ(::bind(socket.get(), reinterpret_cast<sockaddr*>(&from), sizeof from), 0)
      << std::strerror(errno);
  EXPECT_EQ(::connect(socket.get(), reinterpret_cast<sockaddr*>(&to), sizeof to), 0)
      << std::strerror(errno);
  return socket;
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    ASSERT_GT(sent, 0) << std::strerror(errno);
    data.remove_prefix(static_cast<std::size_t>(sent));
  }
}

// What the server sends until it closes the connection: at most `limit` bytes, within `timeout`.
std::string read_until_closed(int fd, std::size_t limit, std::chrono::milliseconds timeout) {
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[65536];
  while (text.size() < limit) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd wait{.fd = fd, .events = POLLIN, .revents = 0};
    if (left.count() <= 0 || ::poll(&wait, 1, static_cast<int>(left.count())) <= 0) break;
    ssize_t got = ::recv(fd, buffer, std::min(sizeof buffer, limit - text.size()), 0);
    if (got <= 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
  }
  return text;
}

struct RawResponse {
  int status = 0;
  std::string head;  // status line and headers, lower case
  std::string body;
};

RawResponse parse_response(const std::string& raw) {
  RawResponse response;
  std::size_t end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) return response;
  response.status = std::atoi(raw.c_str() + 9);
  response.head = raw.substr(0, end);
  std::transform(response.head.begin(), response.head.end(), response.head.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  response.body = raw.substr(end + 4);
  return response;
}

// GET /metrics on a fresh connection; true when it answered 200.
bool scrape_works(std::uint16_t port) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2s);
  client.set_read_timeout(2s);
  auto response = client.Get("/metrics");
  return response && response->status == 200;
}

std::set<int> open_descriptors() {
  std::set<int> descriptors;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    descriptors.insert(std::stoi(entry.path().filename().string()));
  }
  return descriptors;
}

std::string descriptor_target(int fd) {
  std::error_code ignored;
  return std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), ignored).string();
}

// This process's sockets that the server accepted on `port`: bound to it, with a peer.
std::vector<int> accepted_sockets(std::uint16_t port) {
  std::vector<int> accepted;
  for (int fd : open_descriptors()) {
    sockaddr_storage local{}, peer{};
    socklen_t local_length = sizeof local, peer_length = sizeof peer;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) != 0 ||
        local.ss_family != AF_INET ||
        reinterpret_cast<sockaddr_in&>(local).sin_port != htons(port) ||
        ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0) {
      continue;
    }
    accepted.push_back(fd);
  }
  return accepted;
}

// Connections to 127.0.0.1:`port` that the server has not accepted yet: those in the kernel's
// accept queue (the rx_queue column of the LISTEN row of /proc/net/tcp) and those whose handshake
// the server side has not finished (SYN_RECV rows: the accept queue was full when the client's
// last ACK came, and the kernel retries).
std::size_t not_yet_accepted(std::uint16_t port) {
  std::ifstream table("/proc/net/tcp");
  std::string line;
  char local[32];
  std::snprintf(local, sizeof local, "0100007F:%04X", port);
  std::size_t waiting = 0;
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local_address, remote_address, state, queues;
    fields >> slot >> local_address >> remote_address >> state >> queues;
    if (local_address != local) continue;
    if (state == "0A") waiting += std::stoul(queues.substr(queues.find(':') + 1), nullptr, 16);
    if (state == "03") ++waiting;
  }
  return waiting;
}

// A number from /proc/self/status, e.g. "VmHWM" (peak resident memory, KiB) or "Threads".
std::size_t status_value(const std::string& key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stoul(line.substr(key.size() + 1));
  }
  return 0;
}

TEST(ListenAddress, ParsesLoopbackAndExplicitAddresses) {
  ListenAddress v4 = parse_listen_address("127.0.0.1:19472");
  EXPECT_EQ(v4.host, "127.0.0.1");
  EXPECT_EQ(v4.port, 19472);
  EXPECT_TRUE(v4.is_loopback());
  EXPECT_EQ(v4.to_string(), "127.0.0.1:19472");

  EXPECT_EQ(parse_listen_address(kDefaultListenAddress).port, kDefaultMetricsPort);
  EXPECT_TRUE(parse_listen_address(kDefaultListenAddress).is_loopback());

  ListenAddress localhost = parse_listen_address("localhost:9000");
  EXPECT_EQ(localhost.host, "127.0.0.1");
  EXPECT_TRUE(localhost.is_loopback());
  EXPECT_TRUE(parse_listen_address("127.1.2.3:1").is_loopback());

  ListenAddress v6 = parse_listen_address("[::1]:65535");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 65535);
  EXPECT_TRUE(v6.is_loopback());
  EXPECT_EQ(v6.to_string(), "[::1]:65535");

  ListenAddress any = parse_listen_address("0.0.0.0:19472");
  EXPECT_FALSE(any.is_loopback());
  EXPECT_FALSE(parse_listen_address("[::]:19472").is_loopback());
  EXPECT_FALSE(parse_listen_address("10.1.2.3:80").is_loopback());
}

TEST(ListenAddress, RefusesWithAReason) {
  auto error_of = [](std::string_view text) -> std::string {
    try {
      parse_listen_address(text);
    } catch (const std::invalid_argument& error) {
      return error.what();
    }
    return "accepted";
  };
  // Every interface only when written out.
  EXPECT_NE(error_of(":19472").find("no host"), std::string::npos) << error_of(":19472");
  EXPECT_NE(error_of("19472").find("no port"), std::string::npos) << error_of("19472");
  EXPECT_NE(error_of("").find("no port"), std::string::npos);
  EXPECT_NE(error_of("127.0.0.1:").find("port must be a number from 1 to 65535"),
            std::string::npos);
  EXPECT_NE(error_of("127.0.0.1:0").find("port must be"), std::string::npos);
  EXPECT_NE(error_of("127.0.0.1:65536").find("port must be"), std::string::npos);
  EXPECT_NE(error_of("127.0.0.1:80x").find("port must be"), std::string::npos);
  EXPECT_NE(error_of("127.0.0.1:-1").find("port must be"), std::string::npos);
  EXPECT_NE(error_of("::1:19472").find("in brackets"), std::string::npos);
  EXPECT_NE(error_of("[::1]19472").find("[ADDRESS]:PORT"), std::string::npos);
  EXPECT_NE(error_of("[::1").find("[ADDRESS]:PORT"), std::string::npos);
  EXPECT_NE(error_of("example.com:19472").find("not a numeric IP address"), std::string::npos);
  EXPECT_NE(error_of("256.0.0.1:19472").find("not a numeric IP address"), std::string::npos);
  EXPECT_NE(error_of(" 127.0.0.1:19472").find("not a numeric IP address"), std::string::npos);
  // The message quotes what was written.
  EXPECT_EQ(error_of("foo").rfind("listen address \"foo\": ", 0), 0u) << error_of("foo");
}

TEST(MetricsServer, ServesTheLatestPublishedExposition) {
  MetricsServer server(loopback_any_port());
  ASSERT_GT(server.port(), 0);
  httplib::Client client("127.0.0.1", server.port());

  auto before = client.Get("/metrics");
  ASSERT_TRUE(before) << httplib::to_string(before.error());
  EXPECT_EQ(before->status, 200);
  EXPECT_EQ(before->body, render_not_ready_exposition());
  auto health_before = client.Get("/health");
  ASSERT_TRUE(health_before);
  EXPECT_EQ(health_before->status, 503);

  std::string first = render_exposition({.sample = synthetic_sample(2)});
  server.publish(first);
  auto after = client.Get("/metrics");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
  EXPECT_EQ(after->body, first);
  EXPECT_EQ(after->get_header_value("Content-Type"), kExpositionContentType);
  auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");

  std::string second = render_exposition({.sample = synthetic_sample(7)});
  server.publish(second);
  auto latest = client.Get("/metrics");
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->body, second);
  auto head = client.Head("/metrics");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
}

TEST(MetricsServer, ServesNothingElse) {
  MetricsServer server(loopback_any_port());
  server.publish(render_exposition({.sample = synthetic_sample(1)}));
  httplib::Client client("127.0.0.1", server.port());
  for (const char* path : {"/", "/metrics/", "/metricsx", "/health/x", "/index.html",
                           "/../etc/passwd", "/api/v1/query", "/debug/pprof"}) {
    auto response = client.Get(path);
    ASSERT_TRUE(response) << path;
    EXPECT_EQ(response->status, 404) << path;
    EXPECT_EQ(response->body.find("ipctrail_"), std::string::npos) << path;
  }
  for (const char* path : {"/metrics", "/health"}) {
    auto post = client.Post(path, "x", "text/plain");
    ASSERT_TRUE(post) << path;
    EXPECT_EQ(post->status, 404) << path;
    auto remove = client.Delete(path);
    ASSERT_TRUE(remove) << path;
    EXPECT_EQ(remove->status, 404) << path;
  }
}

TEST(MetricsServer, HealthTurnsStaleWhenPublishingStops) {
  MetricsServer server(
      {.address = {.host = "127.0.0.1", .port = 0}, .stale_after = std::chrono::milliseconds(50)});
  server.publish(render_exposition({.sample = synthetic_sample(0)}));
  httplib::Client client("127.0.0.1", server.port());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto stale = client.Get("/health");
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->status, 503);
  EXPECT_EQ(stale->body.rfind("stale: ", 0), 0u) << stale->body;
  server.publish(render_exposition({.sample = synthetic_sample(0)}));
  auto fresh = client.Get("/health");
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->status, 200) << fresh->body;
}

TEST(MetricsServer, BindFailuresNameTheAddress) {
  MetricsServer first(loopback_any_port());
  std::string taken = "127.0.0.1:" + std::to_string(first.port());
  try {
    MetricsServer second({.address = {.host = "127.0.0.1", .port = first.port()}});
    FAIL() << "a second server bound " << taken;
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("cannot listen on " + taken), std::string::npos)
        << error.what();
  }
  // 192.0.2.0/24 is TEST-NET-1: never an address of this host.
  EXPECT_THROW(MetricsServer({.address = parse_listen_address("192.0.2.1:19472")}),
               std::runtime_error);
}

TEST(MetricsServer, ServesOnIpv6Loopback) {
  std::ifstream interfaces("/proc/net/if_inet6");
  std::string all((std::istreambuf_iterator<char>(interfaces)), std::istreambuf_iterator<char>());
  if (all.find("00000000000000000000000000000001") == std::string::npos) {
    GTEST_SKIP() << "this machine has no IPv6 loopback (::1)";
  }
  MetricsServer server({.address = {.host = "::1", .port = 0}});
  server.publish(render_exposition({.sample = synthetic_sample(1)}));
  httplib::Client client("::1", server.port());
  auto response = client.Get("/metrics");
  ASSERT_TRUE(response) << httplib::to_string(response.error());
  EXPECT_EQ(series_value(response->body, "ipctrail_message_queues"), "1");
}

// A scraper that hangs up mid-response must not take the agent down with SIGPIPE.
TEST(MetricsServer, SurvivesClientsHangingUp) {
  MetricsServer server(loopback_any_port());
  std::string big =
      render_exposition({.sample = synthetic_sample(20000)});  // MBs: hang up mid-write
  server.publish(big);
  for (int attempt = 0; attempt < 20; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(server.port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    std::string request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    ASSERT_EQ(::send(fd, request.data(), request.size(), 0), ssize_t(request.size()));
    char first_bytes[16];
    ASSERT_GT(::recv(fd, first_bytes, sizeof first_bytes, 0), 0);
    if (attempt % 2 == 0) {  // half of them reset the connection at once
      linger reset{.l_onoff = 1, .l_linger = 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    }
    ::close(fd);
  }
  httplib::Client client("127.0.0.1", server.port());
  auto response = client.Get("/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, big);
}

// Several scrapers against a publisher that never pauses: every body is one whole exposition.
// A scrape may land before the first publish (under load the publisher thread can start last) and
// then gets the not-ready exposition, which is whole too; it has no timestamp, so it is recognised
// by its text. The publisher keeps going until the scrapers have seen a few versions, so that the
// race is exercised however the threads are scheduled (bounded by a deadline).
TEST(MetricsServer, ConcurrentScrapesWhilePublishing) {
  MetricsServer server(loopback_any_port());
  const std::string not_ready = render_not_ready_exposition();
  constexpr int kScrapers = 4;
  constexpr int kScrapesWhilePublishing = 400;
  constexpr std::size_t kVersionsToSee = 3;
  std::atomic<int> scrapes{0};
  std::atomic<bool> publishing_done{false};
  std::mutex mutex;            // guards the two below
  std::set<std::string> seen;  // published timestamps some scrape got
  std::vector<std::string> failures;
  auto versions_seen = [&] {
    std::lock_guard lock(mutex);
    return seen.size();
  };

  std::thread publisher([&] {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::int64_t sequence = 1;
    while ((scrapes < kScrapesWhilePublishing || versions_seen() < kVersionsToSee) &&
           std::chrono::steady_clock::now() < deadline) {
      Sample sample = synthetic_sample(static_cast<std::size_t>(sequence % 300));
      sample.ts_ms = sequence * 1000;
      server.publish(render_exposition({.sample = sample}));
      ++sequence;
    }
    publishing_done = true;
  });
  std::vector<std::thread> scrapers;
  for (int index = 0; index < kScrapers; ++index) {
    scrapers.emplace_back([&] {
      httplib::Client client("127.0.0.1", server.port());
      while (!publishing_done) {
        auto response = client.Get("/metrics");
        ++scrapes;
        std::string failure;
        if (!response) {
          failure = "no response: " + httplib::to_string(response.error());
        } else if (response->status != 200 || response->body.empty() ||
                   response->body.back() != '\n') {
          failure = "status " + std::to_string(response->status) + ", " +
                    std::to_string(response->body.size()) + " bytes";
        } else if (response->body != not_ready) {
          // Whole: the queue count matches the per-queue series that follow it.
          const std::string& body = response->body;
          std::size_t queues = 0;
          for (std::size_t at = body.find("\nipctrail_message_queue_bytes{");
               at != std::string::npos; at = body.find("\nipctrail_message_queue_bytes{", at + 1)) {
            ++queues;
          }
          std::string timestamp = series_value(body, "ipctrail_last_sample_timestamp_seconds");
          if (timestamp.empty() ||
              series_value(body, "ipctrail_message_queues") != std::to_string(queues)) {
            failure = "torn body: " + body.substr(0, 200);
          } else {
            std::lock_guard lock(mutex);
            seen.insert(timestamp);
          }
        }
        if (!failure.empty()) {
          std::lock_guard lock(mutex);
          failures.push_back(std::move(failure));
        }
      }
    });
  }
  publisher.join();
  for (std::thread& scraper : scrapers) scraper.join();

  EXPECT_TRUE(failures.empty()) << failures.size()
                                << " failed scrapes, the first: " << failures.front();
  EXPECT_GE(scrapes, kScrapesWhilePublishing);
  EXPECT_GE(seen.size(), kVersionsToSee) << "scrapes saw too few publishes";
}

// Prometheus keeps its connection open between scrapes; each scrape on it gets the latest text.
TEST(MetricsServer, KeepsAScrapersConnectionAlive) {
  MetricsServer server(loopback_any_port());
  httplib::Client client("127.0.0.1", server.port());
  client.set_keep_alive(true);
  std::set<std::uint16_t> client_ports;  // one per connection the server accepted
  for (std::size_t queues : {1, 2, 3}) {
    std::string text = render_exposition({.sample = synthetic_sample(queues)});
    server.publish(text);
    auto response = client.Get("/metrics");
    ASSERT_TRUE(response) << httplib::to_string(response.error());
    EXPECT_EQ(response->body, text);
    EXPECT_NE(response->get_header_value("Connection"), "close");
    for (int fd : accepted_sockets(server.port())) {
      sockaddr_in peer{};
      socklen_t length = sizeof peer;
      ASSERT_EQ(::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length), 0);
      client_ports.insert(ntohs(peer.sin_port));
    }
  }
  EXPECT_EQ(client_ports.size(), 1u) << "the scrapes did not share one connection";
}

// A Range header listing the whole body thousands of times once made a server answer with the body
// once per range (multipart/byteranges): a 7.8 KB request for hundreds of MB of memory and
// traffic. The answer is the exposition, once, and the process's peak memory does not move.
TEST(MetricsServer, RangeHeaderDoesNotMultiplyTheBody) {
  MetricsServer server(loopback_any_port());
  std::string text = render_exposition({.sample = synthetic_sample(1000)});
  server.publish(text);
  std::string ranges = "bytes=0-";
  while (ranges.size() < 7800) ranges += ",0-";

  std::size_t peak_before = status_value("VmHWM");
  UniqueFd client = connect_to(server.port());
  send_all(client.get(),
           "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nRange: " + ranges +
               "\r\n\r\n");
  RawResponse response =
      parse_response(read_until_closed(client.get(), text.size() + 64 * 1024, 30s));
  std::size_t peak_growth = status_value("VmHWM") - peak_before;

  EXPECT_EQ(response.status, 200) << response.head;
  EXPECT_EQ(response.head.find("multipart"), std::string::npos) << response.head;
  EXPECT_TRUE(response.body == text)
      << response.body.size() << " bytes; the exposition has " << text.size();
  EXPECT_LT(peak_growth, 32u * 1024) << "KiB more peak memory for one request";
}

// ~1,030 idle connections, more than the usual limit of 1024 descriptors: the server holds at most
// its cap of them (the rest wait in the kernel's backlog), so the agent can still open its files,
// and once they go a scrape works again.
TEST(MetricsServer, ConnectionFloodLeavesDescriptorsForTheAgent) {
  constexpr int kFlood = 1030;
  constexpr std::size_t kCap = 64;  // the server's connection limit
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max < 2 * kFlood) GTEST_SKIP() << "the hard descriptor limit is too low";
  rlimit agent_like{.rlim_cur = 1024, .rlim_max = saved.rlim_max};  // systemd's default soft limit
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &agent_like), 0);
  struct Restore {
    rlimit limit;
    ~Restore() { ::setrlimit(RLIMIT_NOFILE, &limit); }
  } restore{saved};

  MetricsServer server(loopback_any_port());
  server.publish(render_exposition({.sample = synthetic_sample(1)}));
  std::uint16_t port = server.port();

  // The flood comes from a child process, so that only the server's descriptors count here. Ten
  // connections per source address stay under the per-address limit: the total cap is tested.
  int ready[2], release[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(release, O_CLOEXEC), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // only system calls from here on: the parent has threads
    ::close(ready[0]);
    ::close(release[1]);
    rlimit roomy{.rlim_cur = 2 * kFlood, .rlim_max = saved.rlim_max};
    ::setrlimit(RLIMIT_NOFILE, &roomy);
    std::array<pollfd, kFlood> sockets{};
    for (int i = 0; i < kFlood; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      sockaddr_in from{.sin_family = AF_INET,
                       .sin_port = 0,
                       .sin_addr = {loopback_address(2 + i / 10)},
                       .sin_zero = {}};
      sockaddr_in to{.sin_family = AF_INET,
                     .sin_port = htons(port),
                     .sin_addr = {loopback_address(1)},
                     .sin_zero = {}};
      ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from);
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
      sockets[i] = {.fd = fd, .events = POLLOUT, .revents = 0};
    }
    // Every handshake done (the kernel completes them while its backlog has room), 10 s at most.
    std::array<bool, kFlood> done{};
    int connected = 0;
    timespec now{}, until{};
    ::clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += 10;
    for (int pending = kFlood; pending > 0;) {
      ::clock_gettime(CLOCK_MONOTONIC, &now);
      if (now.tv_sec > until.tv_sec ||
          (now.tv_sec == until.tv_sec && now.tv_nsec >= until.tv_nsec)) {
        break;
      }
      if (::poll(sockets.data(), sockets.size(), 100) <= 0) continue;
      for (int i = 0; i < kFlood; ++i) {
        if (done[i] || sockets[i].revents == 0) continue;
        int error = 1;
        socklen_t length = sizeof error;
        ::getsockopt(sockets[i].fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if ((sockets[i].revents & POLLOUT) != 0 && error == 0) ++connected;
        done[i] = true;
        sockets[i].fd = ~sockets[i].fd;  // negative: poll skips it from now on
        --pending;
      }
    }
    (void)!::write(ready[1], &connected, sizeof connected);
    char byte;
    while (::read(release[0], &byte, 1) > 0) {
    }
    ::_exit(0);
  }
  ::close(ready[1]);
  ::close(release[0]);
  int connected = 0;
  pollfd report{.fd = ready[0], .events = POLLIN, .revents = 0};
  ASSERT_EQ(::poll(&report, 1, 60'000), 1);
  ASSERT_EQ(::read(ready[0], &connected, sizeof connected), ssize_t(sizeof connected));
  ::close(ready[0]);
  EXPECT_GT(connected, int(kCap)) << "the flood never got past the cap";

  // Watch the server take connections until none is left waiting for it; one that stops at its
  // cap leaves the rest waiting, so the watch ends after 2 s (enough for a server without a cap to
  // take hundreds; one with a cap passes however long the watch is).
  std::size_t held = 0;
  eventually(
      [&] {
        held = std::max(held, accepted_sockets(port).size());
        return not_yet_accepted(port) == 0;
      },
      2s);
  EXPECT_LE(held, kCap) << connected << " connected, " << not_yet_accepted(port)
                        << " not accepted yet";

  std::vector<int> files;
  int open_error = 0;
  for (int i = 0; i < 512; ++i) {
    int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      open_error = errno;
      break;
    }
    files.push_back(fd);
  }
  for (int fd : files) ::close(fd);
  EXPECT_EQ(files.size(), 512u) << "with " << held
                                << " connections held: " << std::strerror(open_error);

  ::close(release[1]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(eventually([&] { return scrape_works(port); })) << "no scrape after the flood";
  EXPECT_TRUE(eventually([&] { return accepted_sockets(port).empty(); }))
      << accepted_sockets(port).size() << " connections still held";
}

// Clients that send a request a byte at a time and never finish it (slowloris), each on its own
// connection from 127.0.0.`source`. A thread keeps them trickling and notes which ones the server
// closed.
class SlowClients {
 public:
  SlowClients(std::uint16_t port, int count, unsigned source) {
    for (int i = 0; i < count; ++i) sockets_.push_back(connect_to(port, source));
    open_ = count;
    thread_ = std::thread([this] { trickle(); });
  }
  ~SlowClients() {
    stop_ = true;
    thread_.join();
  }
  int open() const { return open_; }  // connections the server has not closed
  int rounds() const { return rounds_; }

 private:
  void trickle() {
    const std::string start = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    std::vector<bool> closed(sockets_.size(), false);
    for (std::size_t sent = 0; !stop_; ++sent) {
      char byte = sent < start.size() ? start[sent] : 'a';
      for (std::size_t i = 0; i < sockets_.size(); ++i) {
        if (closed[i]) continue;
        char buffer[4096];
        ssize_t got = ::recv(sockets_[i].get(), buffer, sizeof buffer, MSG_DONTWAIT);
        bool gone = got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
        if (!gone && ::send(sockets_[i].get(), &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
            errno != EAGAIN && errno != EWOULDBLOCK) {
          gone = true;
        }
        if (gone) {
          closed[i] = true;
          --open_;
        }
      }
      ++rounds_;
      std::this_thread::sleep_for(20ms);  // the trickle's pace
    }
  }

  std::vector<UniqueFd> sockets_;
  std::atomic<int> open_{0};
  std::atomic<int> rounds_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Scrapes answer while slow clients trickle, and each slow client is closed after a deadline for
// its request although it never stops sending: a deadline per request, not per byte.
void expect_scrapes_beside_slow_clients(int count, unsigned source) {
  MetricsServer server(loopback_any_port());
  std::string text = render_exposition({.sample = synthetic_sample(3)});
  server.publish(text);
  SlowClients slow(server.port(), count, source);
  ASSERT_TRUE(eventually([&] { return slow.rounds() >= 3; }));

  httplib::Client client("127.0.0.1", server.port());
  client.set_connection_timeout(10s);
  client.set_read_timeout(10s);
  auto response = client.Get("/metrics");
  ASSERT_TRUE(response) << httplib::to_string(response.error());
  EXPECT_EQ(response->body, text);
  int open_after_scrape = slow.open();
  EXPECT_GT(open_after_scrape, 0) << "the scrape only got through once the slow clients were gone";

  EXPECT_TRUE(eventually([&] { return slow.open() == 0; }))
      << slow.open() << " slow clients still connected after 30 s";
  EXPECT_TRUE(scrape_works(server.port()));
}

TEST(MetricsServer, ScrapesWorkBesideEightSlowClients) {
  // From the scraper's own address, under the per-address limit.
  expect_scrapes_beside_slow_clients(8, 1);
}

TEST(MetricsServer, ScrapesWorkBesideAHundredSlowClients) {
  // From one other host: past the per-address limit, the surplus is refused at once.
  expect_scrapes_beside_slow_clients(100, 2);
}

// Every descriptor the server opens (listening socket, accepted connections, its epoll and event
// descriptors) is close-on-exec: a notify program the agent starts must not inherit a scraper's
// connection.
TEST(MetricsServer, DescriptorsAreCloseOnExec) {
  std::set<int> before = open_descriptors();
  MetricsServer server(loopback_any_port());
  UniqueFd client = connect_to(server.port());
  send_all(client.get(), "GET /metrics HTTP/1.1\r\n");  // a request in progress keeps it open
  ASSERT_TRUE(eventually([&] { return !accepted_sockets(server.port()).empty(); }));

  std::vector<int> accepted = accepted_sockets(server.port());
  for (int fd : open_descriptors()) {
    if (before.count(fd) != 0 || fd == client.get()) continue;
    int flags = ::fcntl(fd, F_GETFD);
    if (flags < 0) continue;  // closed since it was listed
    bool is_accepted = std::find(accepted.begin(), accepted.end(), fd) != accepted.end();
    EXPECT_NE(flags & FD_CLOEXEC, 0) << "descriptor " << fd << " (" << descriptor_target(fd)
                                     << (is_accepted ? ", an accepted connection" : "") << ")";
  }
}

// Threads do not grow with connections.
TEST(MetricsServer, ThreadsStayFewUnderManyConnections) {
  std::size_t before = status_value("Threads");
  MetricsServer server(loopback_any_port());
  std::size_t idle = status_value("Threads") - before;
  std::vector<UniqueFd> clients;
  for (unsigned i = 0; i < 48; ++i) {
    clients.push_back(connect_to(server.port(), 2 + i / 8));
    send_all(clients.back().get(), "GET /metrics HTTP/1.1\r\n");
  }
  ASSERT_TRUE(eventually([&] { return accepted_sockets(server.port()).size() == clients.size(); }));
  EXPECT_EQ(status_value("Threads") - before, idle);
  EXPECT_LE(idle, 4u);
}

}  // namespace
}  // namespace ipctrail
