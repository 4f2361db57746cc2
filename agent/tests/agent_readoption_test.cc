// "Kill the agent: sessions keep running and the next agent re-adopts them." Once at library
// level (drop the backend, open a new one on the same run directory) and once with the built
// moat-agent, killed with SIGKILL.
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include "agent_test_support.h"

namespace moat::agent::test {
namespace {

using wire::SessionActionKind;

class AgentReadoption : public AgentTest {};

const wire::RunningSession* FindIn(const wire::HostHello& hello, const std::string& id) {
  auto it = std::find_if(hello.sessions.begin(), hello.sessions.end(),
                         [&](const wire::RunningSession& s) { return s.session_id == id; });
  return it == hello.sessions.end() ? nullptr : &*it;
}

TEST_F(AgentReadoption, NewBackendOnTheSameRunDirAdoptsAndEndsRunningSessions) {
  std::string running = CreateSession("ar-run");
  std::string frozen = CreateSession("ar-frozen");
  ASSERT_FALSE(Send(ActionRequest(frozen, SessionActionKind::kSuspend)).error);
  auto pid = backend_->manager().Find(running)->pid;

  handler_.reset();
  backend_.reset();  // the agent is gone; its sessions are not
  EXPECT_EQ(::kill(pid, 0), 0) << "moat-init must outlive the backend";

  backend_ = OpenBackend(run_dir_.path());
  ASSERT_NE(backend_, nullptr);
  handler_ = std::make_unique<MessageHandler>(*backend_);
  auto listed = backend_->List();
  ASSERT_TRUE(listed) << listed.error().message();
  ASSERT_EQ(listed->size(), 2u);
  for (const auto& session : *listed) EXPECT_TRUE(session.running) << session.session_id;

  wire::HostHello hello = handler_->MakeHello();
  ASSERT_EQ(hello.sessions.size(), 2u);
  ASSERT_NE(FindIn(hello, running), nullptr);
  ASSERT_NE(FindIn(hello, frozen), nullptr);
  EXPECT_EQ(FindIn(hello, running)->state, wire::RunningState::kRunning);
  EXPECT_EQ(FindIn(hello, frozen)->state, wire::RunningState::kSuspended);
  EXPECT_EQ(FindIn(hello, running)->user, kTestUser);
  EXPECT_EQ(hello.backends, std::vector<wire::Backend>{wire::Backend::kSandbox});
  EXPECT_GE(hello.capacity.cpus, 1u);

  // The adopted sessions obey the new backend, down to their end.
  wire::SessionLimits limits;
  limits.pids_max = 77;
  ASSERT_FALSE(Send(SetLimitsRequest(running, limits)).error);
  EXPECT_EQ(backend_->manager().ReadLimits(running, "")->pids_max, 77u);
  for (const auto& id : {running, frozen}) {
    wire::Envelope reply = Send(ActionRequest(id, SessionActionKind::kEnd));
    EXPECT_FALSE(reply.error) << reply.error->message;
    EXPECT_FALSE(moat::test::Exists(SessionDir(id)));
    EXPECT_FALSE(backend_->Cgroups().Exists(id));
  }
  EXPECT_TRUE(handler_->MakeHello().sessions.empty());
}

TEST_F(AgentReadoption, KilledAgentBinaryLeavesSessionRunningAndNextAgentListsIt) {
  auto agent = AgentProcess::Start(run_dir_.path());
  ASSERT_NE(agent, nullptr);
  auto first = agent->ReadLine(std::chrono::seconds(10));
  ASSERT_TRUE(first) << "moat-agent sent no host.hello";
  auto hello = wire::DecodeEnvelope(*first);
  ASSERT_TRUE(hello) << hello.error().message();
  EXPECT_EQ(hello->type, "host.hello");

  // A line that is not JSON is dropped; a bad request that names its id gets an error reply.
  ASSERT_TRUE(agent->SendLine("this is not json"));
  ASSERT_TRUE(agent->SendLine(R"({"v":1,"type":"session.teleport","id":"bad-1","body":{}})"));
  auto refused = agent->AwaitReply("bad-1", std::chrono::seconds(10));
  ASSERT_TRUE(refused);
  ASSERT_TRUE(refused->error);
  EXPECT_EQ(refused->error->code, "invalid_argument");

  std::string id = moat::test::UniqueId("ar-kill");
  wire::Envelope create = CreateRequest(id);
  ASSERT_TRUE(agent->SendLine(wire::EncodeEnvelope(create)));
  auto created = agent->AwaitReply(create.id, std::chrono::seconds(30));
  ASSERT_TRUE(created) << "no reply to session.create";
  ASSERT_FALSE(created->error) << created->error->message;

  // Its usage streams once a second.
  bool saw_usage = false;
  for (int i = 0; i < 5 && !saw_usage; ++i) {
    auto line = agent->ReadLine(std::chrono::seconds(3));
    ASSERT_TRUE(line);
    auto envelope = wire::DecodeEnvelope(*line);
    ASSERT_TRUE(envelope);
    if (envelope->type != "usage.batch") continue;
    auto batch = wire::DecodeBody<wire::UsageBatch>(*envelope);
    ASSERT_TRUE(batch) << batch.error().message();
    saw_usage = !batch->samples.empty() && batch->samples[0].session_id == id;
  }
  EXPECT_TRUE(saw_usage);

  agent->Kill(SIGKILL);
  auto info = backend_->manager().Find(id);
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_TRUE(info->running) << "the session must survive SIGKILL of its agent";
  EXPECT_TRUE(moat::test::Exists("/proc/" + std::to_string(info->pid)));

  auto listed =
      moat::test::RunCommand({MOAT_AGENT_BIN, "--run-dir", run_dir_.path(), "--once-list"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  auto envelope = wire::DecodeEnvelope(moat::test::Trim(listed.out));
  ASSERT_TRUE(envelope) << envelope.error().message() << "\n" << listed.out;
  auto readopted = wire::DecodeBody<wire::HostHello>(*envelope);
  ASSERT_TRUE(readopted) << readopted.error().message();
  const wire::RunningSession* session = FindIn(*readopted, id);
  ASSERT_NE(session, nullptr) << listed.out;
  EXPECT_EQ(session->state, wire::RunningState::kRunning);

  // A new stdio agent adopts it and can end it.
  auto next = AgentProcess::Start(run_dir_.path());
  ASSERT_NE(next, nullptr);
  auto next_hello = next->ReadLine(std::chrono::seconds(10));
  ASSERT_TRUE(next_hello);
  EXPECT_NE(next_hello->find(id), std::string::npos);
  wire::Envelope end = ActionRequest(id, SessionActionKind::kEnd);
  ASSERT_TRUE(next->SendLine(wire::EncodeEnvelope(end)));
  auto ended = next->AwaitReply(end.id, std::chrono::seconds(30));
  ASSERT_TRUE(ended);
  EXPECT_FALSE(ended->error) << ended->error->message;
  EXPECT_FALSE(moat::test::Exists(SessionDir(id)));
  EXPECT_FALSE(backend_->Cgroups().Exists(id));
}

}  // namespace
}  // namespace moat::agent::test
