#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <atomic>
#include <csignal>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "export/prometheus.h"

namespace ipctrail {

namespace {

// Enough for a pair of HA Prometheus servers holding keep-alive connections plus a person with
// curl; a scrape only copies a string, so more threads would buy nothing.
constexpr std::size_t kServerThreads = 4;
constexpr time_t kSocketTimeoutSeconds = 5;

}  // namespace

struct MetricsServer::State {
  httplib::Server http;
  std::thread listener;
  std::atomic<bool> listener_done{false};
  std::uint16_t port = 0;
  std::chrono::milliseconds stale_after{0};

  std::mutex mutex;  // guards the two below
  std::shared_ptr<const std::string> exposition;
  std::optional<std::chrono::steady_clock::time_point> published_at;

  std::shared_ptr<const std::string> latest() {
    std::lock_guard lock(mutex);
    return exposition;
  }

  // 200 "ok" while the agent keeps publishing; 503 with the reason otherwise.
  std::pair<int, std::string> health() {
    std::lock_guard lock(mutex);
    if (!published_at) return {503, "starting: no collection published yet\n"};
    auto age = std::chrono::steady_clock::now() - *published_at;
    if (stale_after.count() > 0 && age > stale_after) {
      return {503, fmt::format("stale: last collection published {} ms ago\n",
                               std::chrono::duration_cast<std::chrono::milliseconds>(age).count())};
    }
    return {200, "ok\n"};
  }
};

MetricsServer::MetricsServer(Options options) : state_(std::make_unique<State>()) {
  std::signal(SIGPIPE, SIG_IGN);
  State& state = *state_;
  state.stale_after = options.stale_after;
  state.exposition = std::make_shared<const std::string>(render_not_ready_exposition());

  state.http.new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  // httplib's default adds SO_REUSEPORT, which would let a second agent share the port and answer
  // every other scrape; SO_REUSEADDR alone still allows a quick restart.
  state.http.set_socket_options([](socket_t socket) {
    int on = 1;
    ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  });
  state.http.set_read_timeout(kSocketTimeoutSeconds, 0);
  state.http.set_write_timeout(kSocketTimeoutSeconds, 0);
  state.http.Get("/metrics", [&state](const httplib::Request&, httplib::Response& response) {
    std::shared_ptr<const std::string> text = state.latest();
    response.set_content(*text, std::string(kExpositionContentType));
  });
  state.http.Get("/health", [&state](const httplib::Request&, httplib::Response& response) {
    auto [status, text] = state.health();
    response.status = status;
    response.set_content(text, "text/plain; charset=utf-8");
  });

  const std::string& host = options.address.host;
  if (options.address.port == 0) {
    int port = state.http.bind_to_any_port(host);
    if (port > 0) state.port = static_cast<std::uint16_t>(port);
  } else if (state.http.bind_to_port(host, options.address.port)) {
    state.port = options.address.port;
  }
  if (state.port == 0) {
    throw std::runtime_error(fmt::format(
        "cannot listen on {}: the port is in use, or the address is not one of this host's",
        options.address.to_string()));
  }
  state.listener = std::thread([&state] {
    state.http.listen_after_bind();
    state.listener_done = true;
  });
  // stop() only takes effect once the accept loop runs, so wait for it before handing out `this`.
  while (!state.http.is_running() && !state.listener_done) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!state.http.is_running()) {
    state.listener.join();
    throw std::runtime_error(
        fmt::format("serving on {} stopped as it started", options.address.to_string()));
  }
  spdlog::info("serving Prometheus metrics on http://{}/metrics",
               ListenAddress{host, state.port}.to_string());
}

MetricsServer::~MetricsServer() {
  state_->http.stop();
  state_->listener.join();
}

void MetricsServer::publish(std::string exposition) {
  auto text = std::make_shared<const std::string>(std::move(exposition));
  std::lock_guard lock(state_->mutex);
  state_->exposition = std::move(text);
  state_->published_at = std::chrono::steady_clock::now();
}

std::uint16_t MetricsServer::port() const {
  return state_->port;
}

}  // namespace ipctrail
