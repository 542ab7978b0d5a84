// SIGHUP against a running agent: a new configuration whose parts cannot start (a port in use, BPF
// required without the privilege, a history file that cannot be created or is not ipctrail's) is
// refused whole and the agent runs on as it was; a file caught while it is being rewritten in
// place is never applied.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/agent_process.h"
#include "tests/support/capabilities.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/prometheus_support.h"

namespace ipctrail {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A TCP socket listening on a free loopback port, held for the test's lifetime.
class HeldPort {
 public:
  HeldPort() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), size) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      ADD_FAILURE() << "cannot listen on a loopback port";
    }
    port_ = ntohs(address.sin_port);
  }
  ~HeldPort() { ::close(fd_); }
  HeldPort(const HeldPort&) = delete;
  HeldPort& operator=(const HeldPort&) = delete;
  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

// A free loopback port: bound and released, for the agent to bind next.
int free_port() {
  return HeldPort().port();
}

bool accepts_connections(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return connected;
}

class AgentReload : public ::testing::Test {
 protected:
  // Replaces the config file atomically, as a careful operator does.
  void write_config(const std::string& text) {
    std::string temporary = config_ + ".new";
    std::ofstream(temporary) << text;
    fs::rename(temporary, config_);
  }

  std::string log_text() const { return testing::read_text(log_); }
  std::size_t ticks() const { return testing::committed_ticks(log_text()).size(); }

  // SIGHUP, then the agent's answer in the log (a line containing `answer`, new since the signal).
  ::testing::AssertionResult reload_and_expect(testing::AgentProcess& agent,
                                               const std::string& answer) {
    std::size_t seen = testing::count_of(log_text(), answer);
    ::kill(agent.pid(), SIGHUP);
    testing::eventually(
        [&] { return testing::count_of(log_text(), answer) > seen || !agent.running(); });
    if (testing::count_of(log_text(), answer) > seen) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "no '" << answer << "' in the log"
                                         << (agent.running() ? "" : " (the agent exited)") << ":\n"
                                         << log_text();
  }

  // The agent is still running and still writing ticks.
  ::testing::AssertionResult keeps_ticking(testing::AgentProcess& agent) {
    std::size_t before = ticks();
    if (!testing::eventually([&] { return !agent.running() || ticks() >= before + 3; })) {
      return ::testing::AssertionFailure() << "no tick written for a minute";
    }
    if (!agent.running()) {
      return ::testing::AssertionFailure() << "the agent exited:\n" << log_text();
    }
    return ::testing::AssertionSuccess();
  }

  testing::ScratchDirectory scratch_;
  std::string db_ = (scratch_.path() / "history.db").string();
  std::string config_ = (scratch_.path() / "ipctrail.yaml").string();
  std::string log_ = (scratch_.path() / "agent.log").string();
};

TEST_F(AgentReload, AListenAddressThatCannotBeBoundIsRefusedAndTheOldPortServesOn) {
  int serving = free_port();
  HeldPort taken;
  std::string base =
      "interval: 100ms\nbpf:\n  enabled: false\nexport:\n  prometheus:\n    listen: ";
  write_config(base + "127.0.0.1:" + std::to_string(serving) + "\n");
  testing::AgentProcess agent(db_, {"--config", config_}, log_);
  ASSERT_TRUE(testing::eventually([&] { return ticks() >= 2; })) << log_text();
  ASSERT_TRUE(accepts_connections(serving));

  write_config(base + "127.0.0.1:" + std::to_string(taken.port()) + "\n");
  ASSERT_TRUE(reload_and_expect(agent, "keeping the running configuration"));
  EXPECT_NE(log_text().find("cannot listen on 127.0.0.1:" + std::to_string(taken.port())),
            std::string::npos)
      << log_text();
  EXPECT_TRUE(keeps_ticking(agent));
  EXPECT_TRUE(accepts_connections(serving));

  // An address this host does not have (TEST-NET-1, RFC 5737): binding fails, nothing is sent.
  write_config(base + "192.0.2.1:" + std::to_string(taken.port()) + "\n");
  ASSERT_TRUE(reload_and_expect(agent, "cannot listen on 192.0.2.1"));
  EXPECT_TRUE(keeps_ticking(agent));
  EXPECT_TRUE(accepts_connections(serving));

  // The same file with a free port is applied: the refusal left nothing half switched.
  int next = free_port();
  write_config(base + "127.0.0.1:" + std::to_string(next) + "\n");
  ASSERT_TRUE(reload_and_expect(agent, "configuration reloaded"));
  EXPECT_TRUE(testing::eventually([&] { return accepts_connections(next); }));
  EXPECT_FALSE(accepts_connections(serving));
  EXPECT_TRUE(keeps_ticking(agent));
  EXPECT_EQ(agent.stop(SIGTERM), 0);
}

TEST_F(AgentReload, BpfRequiredWithoutThePrivilegeIsRefused) {
  bool root = ::geteuid() == 0;
  IPCTRAIL_REQUIRE_PRIVILEGE(root, "dropping capabilities to see BPF refused needs root");
  testing::drop_bpf_capabilities();  // the agent, forked from here, cannot load BPF
  ASSERT_FALSE(HasFatalFailure());
  write_config("interval: 100ms\nbpf:\n  enabled: false\n");
  testing::AgentProcess agent(db_, {"--config", config_}, log_);
  ASSERT_TRUE(testing::eventually([&] { return ticks() >= 2; })) << log_text();

  write_config("interval: 100ms\nbpf:\n  enabled: true\n");
  ASSERT_TRUE(reload_and_expect(agent, "keeping the running configuration"));
  EXPECT_NE(log_text().find("CAP_BPF"), std::string::npos) << log_text();
  EXPECT_TRUE(keeps_ticking(agent));
  EXPECT_EQ(agent.stop(SIGTERM), 0);
}

class AgentReloadDatabase : public AgentReload {
 protected:
  void start_with_database(const std::string& path) {
    write_config("interval: 100ms\nbpf:\n  enabled: false\ndatabase:\n  path: " + path + "\n");
    agent_.emplace("", std::vector<std::string>{"--config", config_}, log_);  // no --db
    ASSERT_TRUE(testing::eventually([&] { return ticks() >= 2; })) << log_text();
  }

  // Points database.path at `path`; the agent must refuse it and keep writing to db_.
  void expect_refused(const std::string& path, const std::string& why) {
    write_config("interval: 100ms\nbpf:\n  enabled: false\ndatabase:\n  path: " + path + "\n");
    ASSERT_TRUE(reload_and_expect(*agent_, "keeping the running configuration"));
    EXPECT_NE(log_text().find(why), std::string::npos) << log_text();
    EXPECT_TRUE(keeps_ticking(*agent_));
    EXPECT_EQ(testing::count_of(log_text(), "configuration reloaded"), 0u) << log_text();
  }

  std::optional<testing::AgentProcess> agent_;
};

TEST_F(AgentReloadDatabase, APathThatCannotBeCreatedIsRefused) {
  start_with_database(db_);
  std::ofstream(scratch_.path() / "a-file") << "not a folder\n";
  std::string beneath_a_file = (scratch_.path() / "a-file" / "history.db").string();
  expect_refused(beneath_a_file, "a-file");
  EXPECT_EQ(agent_->stop(SIGTERM), 0);
  EXPECT_NE(log_text().find("stopped: "), std::string::npos);
}

TEST_F(AgentReloadDatabase, AFileThatIsNotIpctrailsIsRefusedAndLeftAlone) {
  start_with_database(db_);
  std::string other = (scratch_.path() / "notes.txt").string();
  std::string text(8192, 'n');
  std::ofstream(other) << text;
  expect_refused(other, "notes.txt");
  EXPECT_EQ(testing::read_text(other), text);
  EXPECT_EQ(agent_->stop(SIGTERM), 0);
}

// The file is rewritten in place again and again (truncated, then written in two parts), as a
// script without a rename does, while SIGHUPs arrive: the agent may apply only the whole file.
// Its last line sets the interval, so an empty or cut file would reset it to the default 1000ms.
TEST_F(AgentReload, AFileRewrittenInPlaceDuringASighupStormIsNeverAppliedHalfWritten) {
  std::string whole = "# padding so that a rewrite takes two writes\n" + std::string(2000, '#') +
                      "\nbpf:\n  enabled: false\ninterval: 200ms\n";
  write_config(whole);
  testing::AgentProcess agent(db_, {"--config", config_}, log_);
  ASSERT_TRUE(testing::eventually([&] { return ticks() >= 2; })) << log_text();

  std::atomic<bool> stop{false};
  std::thread writer([&] {
    while (!stop) {
      int fd = ::open(config_.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
      std::this_thread::sleep_for(2ms);  // shapes the rewrite: empty, half, whole, each a while
      std::size_t half = whole.size() / 2;
      ASSERT_EQ(::write(fd, whole.data(), half), static_cast<ssize_t>(half));
      std::this_thread::sleep_for(2ms);
      ASSERT_EQ(::write(fd, whole.data() + half, whole.size() - half),
                static_cast<ssize_t>(whole.size() - half));
      ::close(fd);
      std::this_thread::sleep_for(2ms);
    }
  });
  for (int i = 0; i < 300; ++i) {
    ::kill(agent.pid(), SIGHUP);
    std::this_thread::sleep_for(5ms);  // a storm, not one coalesced signal
  }
  stop = true;
  writer.join();
  ASSERT_TRUE(agent.running()) << log_text();

  // At rest, the whole file is applied.
  ASSERT_TRUE(reload_and_expect(agent, "configuration reloaded; sampling every 200ms"));
  std::string log = log_text();
  EXPECT_EQ(log.find("configuration reloaded; sampling every 1000ms"), std::string::npos) << log;
  EXPECT_TRUE(keeps_ticking(agent));
  EXPECT_EQ(agent.stop(SIGTERM), 0);
}

TEST_F(AgentReload, AnEmptyFileIsRefused) {
  write_config("bpf:\n  enabled: false\ninterval: 200ms\n");
  testing::AgentProcess agent(db_, {"--config", config_}, log_);
  ASSERT_TRUE(testing::eventually([&] { return ticks() >= 2; })) << log_text();
  write_config("");
  ASSERT_TRUE(reload_and_expect(agent, "keeping the running configuration"));
  std::string log = log_text();
  EXPECT_NE(log.find("is empty"), std::string::npos) << log;
  EXPECT_EQ(log.find("configuration reloaded"), std::string::npos) << log;
  EXPECT_TRUE(keeps_ticking(agent));
  EXPECT_EQ(agent.stop(SIGTERM), 0);
}

}  // namespace
}  // namespace ipctrail
