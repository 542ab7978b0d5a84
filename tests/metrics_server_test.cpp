// The /metrics server on loopback: what it serves, what it refuses, and scrapes racing publishes.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "export/prometheus.h"
#include "tests/prometheus_support.h"

namespace ipctrail {
namespace {

using testing::series_value;
using testing::synthetic_sample;

MetricsServer::Options loopback_any_port() {
  return {.address = {.host = "127.0.0.1", .port = 0}};
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

}  // namespace
}  // namespace ipctrail
