// A real Prometheus server (Debian's `prometheus`) on loopback scrapes the exporter serving a
// private IPC namespace with known objects; its HTTP API must return the known values, and the
// shipped rules (packaging/prometheus/ipctrail-rules.yml) must raise and hold their alerts.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <httplib.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "agent/collect/collector.h"
#include "export/prometheus.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/prometheus_support.h"

namespace ipctrail {
namespace {

using namespace std::chrono_literals;

// Prometheus scraping one loopback target every second, with its own storage in `directory`, and
// evaluating the rules of `rule_file` if one is given; stopped (SIGTERM, then SIGKILL) when this
// goes out of scope.
class PrometheusServer {
 public:
  PrometheusServer(const std::filesystem::path& directory, std::uint16_t target_port,
                   const std::optional<std::filesystem::path>& rule_file = std::nullopt)
      : port_(testing::free_loopback_port()), log_(directory / "prometheus.log") {
    std::filesystem::path config = directory / "prometheus.yml";
    std::ofstream(config) << fmt::format(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "{}"
        "scrape_configs:\n"
        "  - job_name: ipctrail\n"
        "    static_configs:\n"
        "      - targets: ['127.0.0.1:{}']\n",
        rule_file ? fmt::format("rule_files: ['{}']\n", rule_file->string()) : "", target_port);
    std::vector<std::string> arguments = {
        "prometheus",
        "--config.file=" + config.string(),
        "--storage.tsdb.path=" + (directory / "data").string(),
        fmt::format("--web.listen-address=127.0.0.1:{}", port_),
        "--log.level=warn",
    };
    std::vector<char*> argv;
    for (std::string& argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);
    int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) throw std::runtime_error("cannot create " + log_.string());
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(log_fd);
    if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }

  ~PrometheusServer() {
    ::kill(pid_, SIGTERM);
    for (int waited = 0; waited < 100; ++waited) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(100ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }

  std::string log() const {
    std::ifstream file(log_);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }

  // The instant vector of `query`, waiting until it is non-empty and `accept` takes it.
  nlohmann::json query_until(const std::string& query,
                             const std::function<bool(const nlohmann::json&)>& accept,
                             std::chrono::seconds timeout = 40s) {
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(1s);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    nlohmann::json result = nlohmann::json::array();
    while (std::chrono::steady_clock::now() < deadline) {
      auto response =
          client.Get("/api/v1/query", httplib::Params{{"query", query}}, httplib::Headers{});
      if (response && response->status == 200) {
        nlohmann::json body = nlohmann::json::parse(response->body);
        result = body["data"]["result"];
        if (!result.empty() && accept(result)) return result;
      }
      std::this_thread::sleep_for(250ms);
    }
    ADD_FAILURE() << "query " << query << " got " << result.dump() << " in " << timeout.count()
                  << " s; prometheus log:\n"
                  << log();
    return result;
  }

  nlohmann::json query(const std::string& query) {
    return query_until(query, [](const nlohmann::json&) { return true; });
  }

 private:
  std::uint16_t port_;
  std::filesystem::path log_;
  pid_t pid_ = -1;
};

double value_of(const nlohmann::json& series) {
  return std::stod(series["value"][1].get<std::string>());
}

using PrometheusScrape = testing::IpcNamespaceTest;

TEST_F(PrometheusScrape, QueriesReturnTheNamespacesValues) {
  set_kernel_value("sem", "250 1000 32 10");
  create_semaphore_array(7);
  int msqid = ::msgget(0x51ec7a11, IPC_CREAT | 0600);
  ASSERT_GE(msqid, 0) << std::strerror(errno);
  send_message(msqid, 42);
  create_segment(65536);

  Collector collector({});
  Sample sample = collector.collect();
  // Alert states and call counts come from the alert engine and BPF in the agent; here they are
  // given, with label values that need every escape.
  const std::string odd_instance = "quote\" back\\slash new\nline \xE2\x9C\x93";
  std::vector<AlertStatusSeries> alerts = {
      {"semaphore_arrays_used", "system.ipc_semaphore_arrays", odd_instance, 3}};
  IpcCallCounts totals;
  totals.calls_of(IpcCall::kSemget) = 12;
  totals.failures_of(IpcCall::kSemget, ErrnoClass::kENOSPC) = 2;
  sample.ipc_calls = IpcCallActivity{"tracepoint", totals, std::nullopt, std::nullopt, {}};

  MetricsServer server({.address = {.host = "127.0.0.1", .port = 0}});
  server.publish(render_exposition({.sample = sample, .alerts = alerts}));

  testing::ScratchDirectory scratch;
  PrometheusServer prometheus(scratch.path(), server.port());

  nlohmann::json up = prometheus.query("up{job=\"ipctrail\"}");
  ASSERT_EQ(up.size(), 1u) << prometheus.log();
  EXPECT_EQ(value_of(up[0]), 1.0);
  EXPECT_EQ(up[0]["metric"]["instance"], fmt::format("127.0.0.1:{}", server.port()));

  EXPECT_EQ(value_of(prometheus.query("ipctrail_up")[0]), 1.0);
  EXPECT_EQ(value_of(prometheus.query("ipctrail_semaphores")[0]), 7.0);
  EXPECT_EQ(value_of(prometheus.query("ipctrail_semaphore_arrays")[0]), 1.0);
  EXPECT_EQ(value_of(prometheus.query("ipctrail_shared_memory_segments")[0]), 1.0);
  EXPECT_EQ(value_of(prometheus.query("ipctrail_shared_memory_bytes")[0]), 65536.0);
  EXPECT_EQ(value_of(prometheus.query("ipctrail_limit{name=\"semmni\"}")[0]), 10.0);
  EXPECT_EQ(value_of(prometheus.query("ipctrail_limit{name=\"shmmax\"}")[0]),
            18446744073692774399.0);

  nlohmann::json bytes = prometheus.query("ipctrail_message_queue_bytes");
  ASSERT_EQ(bytes.size(), 1u);
  EXPECT_EQ(bytes[0]["metric"]["msqid"], std::to_string(msqid));
  EXPECT_EQ(bytes[0]["metric"]["key"], "0x51ec7a11");
  EXPECT_EQ(value_of(bytes[0]), 42.0);
  EXPECT_EQ(value_of(prometheus.query("ipctrail_message_queue_messages")[0]), 1.0);

  nlohmann::json alert = prometheus.query("ipctrail_alert_status");
  ASSERT_EQ(alert.size(), 1u);
  EXPECT_EQ(alert[0]["metric"]["alert_instance"], odd_instance);  // escaping round-trips
  EXPECT_EQ(alert[0]["metric"]["alert"], "semaphore_arrays_used");
  EXPECT_EQ(value_of(alert[0]), 3.0);
  EXPECT_EQ(value_of(prometheus.query("ipctrail_syscalls_total{call=\"semget\"}")[0]), 12.0);
  EXPECT_EQ(value_of(prometheus.query("ipctrail_syscall_errors_total{errno=\"ENOSPC\"}")[0]), 2.0);

  // The next tick: the scrape serves what the agent publishes, not what it served before.
  send_message(msqid, 8);
  collector.collect(sample);
  server.publish(render_exposition({.sample = sample}));
  prometheus.query_until("ipctrail_message_queue_bytes",
                         [](const nlohmann::json& result) { return value_of(result[0]) == 50.0; });
  EXPECT_EQ(value_of(prometheus.query("ipctrail_message_queue_messages")[0]), 2.0);
}

// The shipped rules in a real Prometheus: semaphore_arrays_used raises a warning for a namespace at
// 85% of semmni, holds it at 75% (the hysteresis, through the rule's own ALERTS series), and
// clears at 70%. The rules are evaluated every 10 s, as the agent's alerts.
TEST_F(PrometheusScrape, ShippedRulesRaiseHoldAndClearTheUsageAlert) {
  set_kernel_value("sem", "250 32000 32 20");
  std::vector<int> arrays;
  for (int i = 0; i < 17; ++i) arrays.push_back(create_semaphore_array(1));
  Collector collector({});
  Sample sample = collector.collect();
  MetricsServer server({.address = {.host = "127.0.0.1", .port = 0}});
  server.publish(render_exposition({.sample = sample}));

  testing::ScratchDirectory scratch;
  PrometheusServer prometheus(
      scratch.path(), server.port(),
      std::filesystem::path(IPCTRAIL_SOURCE_DIR) / "packaging/prometheus/ipctrail-rules.yml");
  const std::string alert = "ALERTS{alertname=\"semaphore_arrays_used\", alertstate=\"firing\"}";
  auto severity_is = [](const char* severity) {
    return [severity](const nlohmann::json& result) {
      return result.size() == 1 && result[0]["metric"]["severity"] == severity;
    };
  };
  nlohmann::json raised = prometheus.query_until(alert, severity_is("warning"), 60s);
  ASSERT_EQ(raised.size(), 1u) << prometheus.log();
  EXPECT_EQ(raised[0]["metric"]["instance"], fmt::format("127.0.0.1:{}", server.port()));

  // 15 of 20: below 80, above 70. Two evaluations at 75% (the second starts after the first has
  // evaluated the alert), and the warning still fires.
  remove_semaphore_array(arrays.back());
  arrays.pop_back();
  remove_semaphore_array(arrays.back());
  arrays.pop_back();
  collector.collect(sample);
  server.publish(render_exposition({.sample = sample}));
  const std::string percent = "ipctrail:semaphore_arrays_used:percent[25s]";
  prometheus.query_until(
      "count_over_time(" + percent + ") >= 2 and max_over_time(" + percent + ") == 75",
      [](const nlohmann::json&) { return true; }, 60s);
  EXPECT_TRUE(severity_is("warning")(prometheus.query(alert))) << prometheus.log();

  // 14 of 20: 70%, not above 70: cleared.
  remove_semaphore_array(arrays.back());
  collector.collect(sample);
  server.publish(render_exposition({.sample = sample}));
  nlohmann::json cleared = prometheus.query_until(
      "absent(" + alert + ")", [](const nlohmann::json&) { return true; }, 60s);
  EXPECT_EQ(cleared.size(), 1u) << prometheus.log();
}

}  // namespace
}  // namespace ipctrail
