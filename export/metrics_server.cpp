// The /metrics endpoint on libmicrohttpd (MHD). MHD owns the sockets and the HTTP parsing; this
// file chooses the limits that keep a hostile client from taking the agent down and answers two
// paths from the last published text. Nothing else in the project sees an MHD type.
//
// MHD is loaded with dlopen when the first server starts, not linked: it brings GnuTLS and its
// eight libraries, whose constructors run at load and leave about 2.3 MiB of their pages resident
// for the agent's whole life (README "Memory"), though /metrics is off by default and never uses
// TLS.
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fmt/format.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <condition_variable>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "export/prometheus.h"

namespace ipctrail {

namespace {

using Clock = std::chrono::steady_clock;

// Two event-driven (epoll) threads: a scrape only hands MHD a pointer to the published text, so a
// thread is never busy for long, and a slow client costs a socket, not a thread.
constexpr unsigned kServerThreads = 2;
// Connections open at once. A pair of HA Prometheus servers and a person with curl need a
// handful; the cap bounds the agent's descriptors (see LimitNOFILE= in the unit) and memory
// (kConnectionMemory each). Past it MHD stops accepting and the kernel's backlog holds the rest.
constexpr unsigned kMaxConnections = 64;
// Connections from one address, so that one remote host cannot take every slot. On the loopback
// default every local client shares 127.0.0.1, so there it caps them together.
constexpr unsigned kMaxConnectionsPerAddress = 16;
// Per connection, for the request line, headers and MHD's bookkeeping (MHD's default): a request
// that does not fit gets 431 or 414, never more memory.
constexpr std::size_t kConnectionMemory = 32 * 1024;
// MHD's own timeout: a connection with no traffic at all for this long is closed.
constexpr unsigned kIdleTimeoutSeconds = 5;
// The deadline a connection has for each request, counted from when it connected or finished its
// previous response, however it trickles bytes: MHD's timeout only counts silence, so a client
// sending one byte a second would otherwise hold its slot for ever (slowloris). It covers reading
// the request and writing the response; a scrape of an in-memory text takes milliseconds.
constexpr std::chrono::seconds kRequestDeadline{5};

constexpr const char* kTextContentType = "text/plain; charset=utf-8";
// kExpositionContentType is a string_view; MHD wants a C string.
const std::string kExpositionContentTypeText(kExpositionContentType);

// The soname of the MHD that <microhttpd.h> describes (Debian 12's libmicrohttpd12); packaging
// declares the dependency, which no ELF entry states any more.
constexpr const char* kLibraryName = "libmicrohttpd.so.12";

// The MHD functions this file calls, resolved from the library loaded once for the process.
struct Mhd {
  decltype(&MHD_start_daemon) start_daemon = nullptr;
  decltype(&MHD_stop_daemon) stop_daemon = nullptr;
  decltype(&MHD_get_daemon_info) get_daemon_info = nullptr;
  decltype(&MHD_get_connection_info) get_connection_info = nullptr;
  decltype(&MHD_create_response_from_buffer_with_free_callback_cls) create_response = nullptr;
  decltype(&MHD_add_response_header) add_response_header = nullptr;
  decltype(&MHD_queue_response) queue_response = nullptr;
  decltype(&MHD_destroy_response) destroy_response = nullptr;
};

template <typename Function>
void resolve(void* library, const char* name, Function& function) {
  function = reinterpret_cast<Function>(::dlsym(library, name));
  if (function == nullptr) {
    throw std::runtime_error(fmt::format("{} has no {}", kLibraryName, name));
  }
}

Mhd load_mhd() {
  // Never closed: the library stays for the rest of the process, as a linked one would.
  void* library = ::dlopen(kLibraryName, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    throw std::runtime_error(fmt::format("cannot load {}: {}", kLibraryName, ::dlerror()));
  }
  Mhd mhd;
  resolve(library, "MHD_start_daemon", mhd.start_daemon);
  resolve(library, "MHD_stop_daemon", mhd.stop_daemon);
  resolve(library, "MHD_get_daemon_info", mhd.get_daemon_info);
  resolve(library, "MHD_get_connection_info", mhd.get_connection_info);
  resolve(library, "MHD_create_response_from_buffer_with_free_callback_cls", mhd.create_response);
  resolve(library, "MHD_add_response_header", mhd.add_response_header);
  resolve(library, "MHD_queue_response", mhd.queue_response);
  resolve(library, "MHD_destroy_response", mhd.destroy_response);
  return mhd;
}

// Loads MHD on the first call (a server starting; a failure is thrown to it, and the next server
// tries again, as a static's initialization does); every later call, MHD's callbacks included,
// gets the same functions.
const Mhd& mhd() {
  static const Mhd loaded = load_mhd();
  return loaded;
}

// Everything the server shares with MHD's callbacks (which cannot name the private
// MetricsServer::State).
struct ServerState {
  MHD_Daemon* daemon = nullptr;
  std::uint16_t port = 0;
  std::chrono::milliseconds stale_after{0};
  // MHD's messages while starting, for the error when it cannot.
  std::mutex start_mutex;  // guards the two below
  bool starting = true;
  std::string start_messages;

  std::mutex mutex;  // guards the two below
  std::shared_ptr<const std::string> exposition;
  std::optional<Clock::time_point> published_at;

  // The open connections and their request deadlines, kept from MHD's "started" notice to its
  // "closed" notice. MHD calls the latter before it closes the socket, and the watchdog only shuts
  // a socket down while holding connections_mutex, so it never touches a reused descriptor.
  struct Connection {
    int fd = -1;
    Clock::time_point deadline;
    bool cut = false;
  };
  std::mutex connections_mutex;  // guards the three below
  std::condition_variable connections_changed;
  std::unordered_map<const MHD_Connection*, Connection> connections;
  bool stopping = false;
  std::thread watchdog;

  std::shared_ptr<const std::string> latest() {
    std::lock_guard lock(mutex);
    return exposition;
  }

  // 200 "ok" while the agent keeps publishing; 503 with the reason otherwise.
  std::pair<unsigned, std::string> health() {
    std::lock_guard lock(mutex);
    if (!published_at) return {503, "starting: no collection published yet\n"};
    auto age = Clock::now() - *published_at;
    if (stale_after.count() > 0 && age > stale_after) {
      return {503, fmt::format("stale: last collection published {} ms ago\n",
                               std::chrono::duration_cast<std::chrono::milliseconds>(age).count())};
    }
    return {200, "ok\n"};
  }

  // Shuts down the sockets of connections past their deadline; MHD then sees the end of the
  // stream, closes the connection and frees its slot. Sleeps until the earliest deadline.
  void watch_deadlines() {
    std::unique_lock lock(connections_mutex);
    while (!stopping) {
      Clock::time_point now = Clock::now();
      std::optional<Clock::time_point> next;
      for (auto& [connection, tracked] : connections) {
        if (tracked.cut) continue;
        if (tracked.deadline <= now) {
          ::shutdown(tracked.fd, SHUT_RDWR);
          tracked.cut = true;
          spdlog::debug("metrics: closed a connection that overran its {} s request deadline",
                        kRequestDeadline.count());
        } else if (!next || tracked.deadline < *next) {
          next = tracked.deadline;
        }
      }
      // A new connection's deadline is never earlier than one already known, and a renewed one is
      // later, so only a connection arriving while none is tracked needs to wake this.
      if (next) {
        connections_changed.wait_until(lock, *next);
      } else {
        connections_changed.wait(lock);
      }
    }
  }

  void stop_watchdog() {
    {
      std::lock_guard lock(connections_mutex);
      stopping = true;
    }
    connections_changed.notify_one();
    watchdog.join();
  }
};

using State = ServerState;

void log_mhd_message(void* cls, const char* format, va_list arguments) {
  char text[512];
  std::vsnprintf(text, sizeof text, format, arguments);
  std::string_view message(text);
  while (!message.empty() && message.back() == '\n') message.remove_suffix(1);
  auto& state = *static_cast<State*>(cls);
  {
    std::lock_guard lock(state.start_mutex);
    if (state.starting) {
      if (!state.start_messages.empty()) state.start_messages += "; ";
      state.start_messages += message;
    }
  }
  // Debug: a client can make MHD say something (a refused connection, a bad request) as often as
  // it likes.
  spdlog::debug("metrics: {}", message);
}

void on_connection(void* cls, MHD_Connection* connection, void** /*socket_context*/,
                   MHD_ConnectionNotificationCode code) {
  auto& state = *static_cast<State*>(cls);
  std::lock_guard lock(state.connections_mutex);
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    const MHD_ConnectionInfo* info =
        mhd().get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info == nullptr) return;
    bool was_idle = state.connections.empty();
    state.connections[connection] = {.fd = info->connect_fd,
                                     .deadline = Clock::now() + kRequestDeadline};
    if (was_idle) state.connections_changed.notify_one();
  } else {
    state.connections.erase(connection);
  }
}

// A request was answered (or abandoned): the connection's next request gets a fresh deadline.
void on_request_done(void* cls, MHD_Connection* connection, void** /*request_context*/,
                     MHD_RequestTerminationCode /*code*/) {
  auto& state = *static_cast<State*>(cls);
  std::lock_guard lock(state.connections_mutex);
  auto found = state.connections.find(connection);
  if (found != state.connections.end()) found->second.deadline = Clock::now() + kRequestDeadline;
}

MHD_Result queue_text(MHD_Connection* connection, unsigned status,
                      std::shared_ptr<const std::string> text, const char* content_type) {
  // No copy: the response holds its own reference to the text, so a publish during a long write
  // neither waits for it nor changes what it sends.
  auto* owner = new std::shared_ptr<const std::string>(std::move(text));
  MHD_Response* response = mhd().create_response(
      (*owner)->size(), const_cast<char*>((*owner)->data()),
      [](void* cls) { delete static_cast<std::shared_ptr<const std::string>*>(cls); }, owner);
  if (response == nullptr) {
    delete owner;
    return MHD_NO;  // closes the connection
  }
  MHD_Result result =
      mhd().add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  if (result == MHD_YES) result = mhd().queue_response(connection, status, response);
  mhd().destroy_response(response);  // MHD keeps its own reference until the response is sent
  return result;
}

// GET (and HEAD, which MHD answers with the same headers and no body) of /metrics and /health;
// everything else is 404. Range and other request headers are not looked at: the body is always
// the whole text, once.
MHD_Result answer(void* cls, MHD_Connection* connection, const char* url, const char* method,
                  const char* /*version*/, const char* /*upload_data*/,
                  std::size_t* upload_data_size, void** request_context) {
  auto& state = *static_cast<State*>(cls);
  std::string_view path(url);
  std::string_view verb(method);
  static const auto not_found = std::make_shared<const std::string>("not found\n");
  if (verb != MHD_HTTP_METHOD_GET && verb != MHD_HTTP_METHOD_HEAD) {
    // Answered on the first call, before any request body: MHD then closes the connection
    // instead of reading a body nobody wants.
    return queue_text(connection, MHD_HTTP_NOT_FOUND, not_found, kTextContentType);
  }
  // The first call comes with the headers; answering on the second, once MHD knows the request
  // is complete, lets it keep the connection alive for the next scrape.
  static char headers_seen;
  if (*request_context == nullptr) {
    *request_context = &headers_seen;
    return MHD_YES;
  }
  if (*upload_data_size != 0) return MHD_NO;  // a GET with a body: no scraper; close
  if (path == "/metrics") {
    return queue_text(connection, MHD_HTTP_OK, state.latest(), kExpositionContentTypeText.c_str());
  }
  if (path == "/health") {
    auto [status, text] = state.health();
    return queue_text(connection, status, std::make_shared<const std::string>(std::move(text)),
                      kTextContentType);
  }
  return queue_text(connection, MHD_HTTP_NOT_FOUND, not_found, kTextContentType);
}

}  // namespace

struct MetricsServer::State : ServerState {};

MetricsServer::MetricsServer(Options options) : state_(std::make_unique<State>()) {
  std::signal(SIGPIPE, SIG_IGN);
  ServerState& state = *state_;
  state.stale_after = options.stale_after;
  state.exposition = std::make_shared<const std::string>(render_not_ready_exposition());

  const std::string& host = options.address.host;
  sockaddr_storage address{};
  // Every IPv6 address is dual stack as the system sets it up ("[::]" also takes IPv4), as
  // before; MHD would otherwise set IPV6_V6ONLY.
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
  if (host.find(':') != std::string::npos) {
    auto& v6 = reinterpret_cast<sockaddr_in6&>(address);
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(options.address.port);
    if (::inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) != 1) {
      throw std::runtime_error(fmt::format("cannot listen on {}: not a numeric IPv6 address",
                                           options.address.to_string()));
    }
    flags |= MHD_USE_DUAL_STACK;
  } else {
    auto& v4 = reinterpret_cast<sockaddr_in&>(address);
    v4.sin_family = AF_INET;
    v4.sin_port = htons(options.address.port);
    if (::inet_pton(AF_INET, host.c_str(), &v4.sin_addr) != 1) {
      throw std::runtime_error(fmt::format("cannot listen on {}: not a numeric IPv4 address",
                                           options.address.to_string()));
    }
  }

  const Mhd& library = mhd();  // throws before any thread starts
  state.watchdog = std::thread([&state] { state.watch_deadlines(); });
  // MHD binds with SO_REUSEADDR only (no SO_REUSEPORT, which would let a second agent share the
  // port and answer every other scrape), and opens every socket close-on-exec.
  // clang-format off
  state.daemon = library.start_daemon(
      flags, options.address.port, nullptr, nullptr, &answer, &state,
      MHD_OPTION_EXTERNAL_LOGGER, &log_mhd_message, &state,
      MHD_OPTION_SOCK_ADDR, reinterpret_cast<const sockaddr*>(&address),
      MHD_OPTION_THREAD_POOL_SIZE, kServerThreads,
      MHD_OPTION_CONNECTION_LIMIT, kMaxConnections,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, kMaxConnectionsPerAddress,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, kConnectionMemory,
      MHD_OPTION_CONNECTION_TIMEOUT, kIdleTimeoutSeconds,
      MHD_OPTION_NOTIFY_CONNECTION, &on_connection, &state,
      MHD_OPTION_NOTIFY_COMPLETED, &on_request_done, &state,
      MHD_OPTION_END);
  // clang-format on
  {
    std::lock_guard lock(state.start_mutex);
    state.starting = false;
  }
  if (state.daemon == nullptr) {
    state.stop_watchdog();
    std::string reason = state.start_messages.empty()
                             ? "the port is in use, or the address is not one of this host's"
                             : state.start_messages;
    throw std::runtime_error(
        fmt::format("cannot listen on {}: {}", options.address.to_string(), reason));
  }
  const MHD_DaemonInfo* bound = mhd().get_daemon_info(state.daemon, MHD_DAEMON_INFO_BIND_PORT);
  state.port = bound != nullptr ? bound->port : options.address.port;
  spdlog::info("serving Prometheus metrics on http://{}/metrics",
               ListenAddress{host, state.port}.to_string());
}

MetricsServer::~MetricsServer() {
  // MHD first: stopping closes every connection, whose notices still need the registry.
  mhd().stop_daemon(state_->daemon);
  state_->stop_watchdog();
}

void MetricsServer::publish(std::string exposition) {
  auto text = std::make_shared<const std::string>(std::move(exposition));
  std::lock_guard lock(state_->mutex);
  state_->exposition = std::move(text);
  state_->published_at = Clock::now();
}

std::uint16_t MetricsServer::port() const {
  return state_->port;
}

}  // namespace ipctrail
