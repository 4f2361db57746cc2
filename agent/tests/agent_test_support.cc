#include "agent_test_support.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

namespace moat::agent::test {

wire::Envelope CreateRequest(const std::string& id, wire::SessionLimits limits) {
  wire::SessionCreate body;
  body.session_id = id;
  body.user = kTestUser;
  body.limits = std::move(limits);
  body.desktop = false;
  return wire::MakeMessage(body);
}

wire::Envelope SetLimitsRequest(const std::string& id, wire::SessionLimits limits) {
  return wire::MakeMessage(wire::SessionSetLimits{id, std::move(limits)});
}

wire::Envelope ActionRequest(const std::string& id, wire::SessionActionKind action) {
  return wire::MakeMessage(wire::SessionAction{id, action});
}

std::unique_ptr<SandboxBackend> OpenBackend(const std::string& run_dir) {
  sandbox::ManagerOptions options;
  options.run_dir = run_dir;
  auto backend = SandboxBackend::Open(options);
  EXPECT_TRUE(backend) << backend.error().message();
  return backend ? std::move(*backend) : nullptr;
}

void AgentTest::SetUp() {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: builds namespaces and cgroups";
  moat::test::EnsureUser(kTestUser);
  backend_ = OpenBackend(run_dir_.path());
  ASSERT_NE(backend_, nullptr);
  handler_ = std::make_unique<MessageHandler>(*backend_);
}

void AgentTest::TearDown() {
  if (!backend_) return;
  for (const auto& session : backend_->List().value_or(std::vector<BackendSession>{})) {
    (void)backend_->End(session.session_id, std::chrono::milliseconds(200));
  }
}

wire::Envelope AgentTest::Send(const wire::Envelope& request) {
  auto reply = handler_->Handle(request);
  EXPECT_TRUE(reply) << reply.error().message();
  if (!reply) return {};
  EXPECT_EQ(reply->re, request.id);
  EXPECT_EQ(reply->type, request.type);
  return *reply;
}

std::string AgentTest::CreateSession(const std::string& prefix, wire::SessionLimits limits) {
  std::string id = moat::test::UniqueId(prefix);
  wire::Envelope reply = Send(CreateRequest(id, std::move(limits)));
  EXPECT_FALSE(reply.error) << reply.error->code << ": " << reply.error->message;
  return id;
}

size_t AgentTest::SessionCount() {
  return backend_->List().value_or(std::vector<BackendSession>{}).size();
}

std::string AgentTest::SessionDir(const std::string& id) const {
  return run_dir_.path() + "/sessions/" + id;
}

std::unique_ptr<AgentProcess> AgentProcess::Start(const std::string& run_dir) {
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return nullptr;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::execl(MOAT_AGENT_BIN, MOAT_AGENT_BIN, "--run-dir", run_dir.c_str(), "--stdio", nullptr);
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  auto process = std::unique_ptr<AgentProcess>(new AgentProcess());
  process->pid_ = pid;
  process->to_agent_.Reset(in[1]);
  process->from_agent_.Reset(out[0]);
  return process;
}

AgentProcess::~AgentProcess() {
  if (pid_ > 0) Kill(SIGKILL);
}

void AgentProcess::Kill(int signal) {
  if (pid_ <= 0) return;
  ::kill(pid_, signal);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

bool AgentProcess::SendLine(const std::string& line) {
  std::string data = line + "\n";
  return ::write(to_agent_.get(), data.data(), data.size()) == static_cast<ssize_t>(data.size());
}

std::optional<std::string> AgentProcess::ReadLine(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto end = pending_.find('\n'); end != std::string::npos) {
      std::string line = pending_.substr(0, end);
      pending_.erase(0, end + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    struct pollfd fd = {from_agent_.get(), POLLIN, 0};
    if (::poll(&fd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[65536];
    ssize_t n = ::read(from_agent_.get(), buffer, sizeof(buffer));
    if (n <= 0) return std::nullopt;
    pending_.append(buffer, static_cast<size_t>(n));
  }
}

std::optional<wire::Envelope> AgentProcess::AwaitReply(const std::string& request_id,
                                                       std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto line = ReadLine(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (!line) return std::nullopt;
    auto envelope = wire::DecodeEnvelope(*line);
    if (envelope && envelope->re == request_id) return *envelope;
  }
  return std::nullopt;
}

}  // namespace moat::agent::test
