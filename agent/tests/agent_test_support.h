// Shared pieces of the agent's integration tests: a private run directory and backend, typed
// request builders, and a moat-agent child process driven over its stdio link.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "message_handler.h"
#include "moat/common/unique_fd.h"
#include "moat/common/wire/envelope.h"
#include "moat/common/wire/messages.h"
#include "sandbox_backend.h"
#include "test_support.h"

namespace moat::agent::test {

inline constexpr char kTestUser[] = "moat-agent-test";

wire::Envelope CreateRequest(const std::string& id, wire::SessionLimits limits = {});
wire::Envelope SetLimitsRequest(const std::string& id, wire::SessionLimits limits);
wire::Envelope ActionRequest(const std::string& id, wire::SessionActionKind action);

// Opens a SandboxBackend on `run_dir` with the default cgroup parent; fails the test if not.
std::unique_ptr<SandboxBackend> OpenBackend(const std::string& run_dir);

class AgentTest : public testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // The handler's reply; fails the test when Handle itself fails.
  wire::Envelope Send(const wire::Envelope& request);
  // Creates a session through the handler and checks the reply has no error.
  std::string CreateSession(const std::string& prefix, wire::SessionLimits limits = {});
  size_t SessionCount();
  std::string SessionDir(const std::string& id) const;

  moat::test::ScratchRunDir run_dir_;
  std::unique_ptr<SandboxBackend> backend_;
  std::unique_ptr<MessageHandler> handler_;
};

// moat-agent --stdio as a child with its stdin and stdout on pipes.
class AgentProcess {
 public:
  static std::unique_ptr<AgentProcess> Start(const std::string& run_dir);
  ~AgentProcess();

  bool SendLine(const std::string& line);
  // The next line on its stdout, or nothing after `timeout`.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);
  // The next reply to `request_id`, skipping usage batches; nothing after `timeout`.
  std::optional<wire::Envelope> AwaitReply(const std::string& request_id,
                                           std::chrono::milliseconds timeout);
  void Kill(int signal);
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  UniqueFd to_agent_, from_agent_;
  std::string pending_;
};

}  // namespace moat::agent::test
