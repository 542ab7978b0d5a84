// A test in its own IPC namespace watched by the real agent with BPF attached (root, tracefs):
// the who tests' common ground. The agent must attach: where it cannot, the test skips, or fails
// when privileged tests are required (CI), never passes without BPF.
#pragma once

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/agent_process.h"
#include "tests/support/checkpointed_size.h"
#include "tests/support/ipc_namespace.h"
#include "tests/support/prometheus_support.h"

namespace ipctrail::testing {

class BpfAgentTest : public IpcNamespaceTest {
 protected:
  // (Re)starts the agent on this test's history file, ticking every 100 ms, and waits for two
  // committed ticks. Call with ASSERT_NO_FATAL_FAILURE and return when IsSkipped().
  void start_bpf_agent() {
    agent_.reset();
    std::filesystem::remove(log_);
    std::ofstream(config_) << "interval: 100ms\nbpf:\n  enabled: true\n";
    agent_ =
        std::make_unique<AgentProcess>(db_, std::vector<std::string>{"--config", config_}, log_);
    bool ticking = eventually(
        [&] { return !agent_->running() || count_of(read_text(log_), "committed") >= 2; });
    IPCTRAIL_REQUIRE_PRIVILEGE(
        ticking && agent_->running(),
        "the agent with bpf.enabled: true did not start:\n" + read_text(log_));
  }

  ScratchDirectory scratch_;
  std::string db_ = (scratch_.path() / "history.db").string();
  std::string config_ = (scratch_.path() / "ipctrail.yaml").string();
  std::string log_ = (scratch_.path() / "agent.log").string();
  std::unique_ptr<AgentProcess> agent_;
};

}  // namespace ipctrail::testing
