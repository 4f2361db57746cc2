// The agent's request handler over real walls: each request goes through MessageHandler to
// the sandbox backend, and the effect is checked through SessionManager, the cgroup tree and
// the run directory.
#include <unistd.h>

#include <thread>

#include "agent_test_support.h"
#include "usage_collector.h"

namespace moat::agent::test {
namespace {

using wire::SessionActionKind;

class AgentHandler : public AgentTest {};

TEST_F(AgentHandler, CreateBuildsARunningWall) {
  std::string id = moat::test::UniqueId("ah-create");
  wire::Envelope reply = Send(CreateRequest(id));
  ASSERT_FALSE(reply.error) << reply.error->message;
  EXPECT_EQ(reply.body.value("session_id", ""), id);
  EXPECT_EQ(reply.body.value("backend", ""), "sandbox");
  auto info = backend_->manager().Find(id);
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_TRUE(info->running);
  EXPECT_EQ(info->user, kTestUser);
  EXPECT_TRUE(backend_->Cgroups().Exists(id));
  EXPECT_TRUE(moat::test::Exists(SessionDir(id) + "/state.json"));
}

TEST_F(AgentHandler, SetLimitsPutsValuesIntoForceAndRepliesWithThem) {
  std::string id = CreateSession("ah-limits");
  wire::SessionLimits limits;
  limits.cpu_percent = 50;
  limits.cpu_weight = 200;
  limits.memory_max = 256ull << 20;
  limits.pids_max = 100;
  wire::Envelope reply = Send(SetLimitsRequest(id, limits));
  ASSERT_FALSE(reply.error) << reply.error->message;

  auto effective = backend_->manager().ReadLimits(id, "");
  ASSERT_TRUE(effective) << effective.error().message();
  EXPECT_EQ(effective->cpu_percent, 50);
  EXPECT_EQ(effective->cpu_weight, 200u);
  EXPECT_EQ(effective->memory_max, 256ull << 20);
  EXPECT_EQ(effective->pids_max, 100u);
  auto replied = wire::SessionLimitsFromJson(reply.body.at("limits"), "limits");
  ASSERT_TRUE(replied) << replied.error().message();
  EXPECT_EQ(replied->memory_max, 256ull << 20);
  EXPECT_EQ(replied->pids_max, 100u);
}

TEST_F(AgentHandler, SetLimitsMaxLiftsALimit) {
  wire::SessionLimits start;
  start.pids_max = 64;
  start.memory_max = 128ull << 20;
  std::string id = CreateSession("ah-max", start);
  wire::SessionLimits lift;
  lift.pids_max = wire::kUnlimited;
  lift.memory_max = wire::kUnlimited;
  wire::Envelope reply = Send(SetLimitsRequest(id, lift));
  ASSERT_FALSE(reply.error) << reply.error->message;
  auto effective = backend_->manager().ReadLimits(id, "");
  ASSERT_TRUE(effective);
  EXPECT_EQ(effective->pids_max, sandbox::kUnlimited);
  EXPECT_EQ(effective->memory_max, sandbox::kUnlimited);
  EXPECT_EQ(reply.body.at("limits").at("pids_max"), "max");
}

TEST_F(AgentHandler, SuspendFreezesAndResumeThaws) {
  std::string id = CreateSession("ah-freeze");
  wire::Envelope suspended = Send(ActionRequest(id, SessionActionKind::kSuspend));
  ASSERT_FALSE(suspended.error) << suspended.error->message;
  EXPECT_EQ(suspended.body.value("state", ""), "suspended");
  auto usage = backend_->manager().Usage(id, "");
  ASSERT_TRUE(usage) << usage.error().message();
  EXPECT_TRUE(usage->frozen);
  auto hello = handler_->MakeHello();
  ASSERT_EQ(hello.sessions.size(), 1u);
  EXPECT_EQ(hello.sessions[0].state, wire::RunningState::kSuspended);

  wire::Envelope resumed = Send(ActionRequest(id, SessionActionKind::kResume));
  ASSERT_FALSE(resumed.error) << resumed.error->message;
  usage = backend_->manager().Usage(id, "");
  ASSERT_TRUE(usage);
  EXPECT_FALSE(usage->frozen);
}

TEST_F(AgentHandler, UsageBatchHasTheSessionWithPidsAndASaneCpuPercent) {
  std::string id = CreateSession("ah-usage");
  auto launched = backend_->Launch(id, {{"/bin/sh", "-c", "while :; do :; done"}, {}, "", {}});
  ASSERT_TRUE(launched) << launched.error().message();
  EXPECT_EQ(launched->app.rfind("app-", 0), 0u) << launched->app;

  UsageCollector collector(*backend_);
  wire::UsageBatch first = collector.Collect();
  ASSERT_EQ(first.samples.size(), 1u);
  EXPECT_EQ(first.samples[0].session_id, id);
  EXPECT_GE(first.samples[0].pids, 1u);
  EXPECT_EQ(first.samples[0].cpu_percent, 0);  // no previous sample yet
  std::this_thread::sleep_for(std::chrono::seconds(1));
  wire::UsageBatch second = collector.Collect();
  ASSERT_EQ(second.samples.size(), 1u);
  const wire::UsageSample& sample = second.samples[0];
  EXPECT_GE(sample.pids, 2u);  // moat-init and the busy loop
  EXPECT_GT(sample.cpu_usage_us, first.samples[0].cpu_usage_us);
  const double cores = static_cast<double>(::sysconf(_SC_NPROCESSORS_ONLN));
  EXPECT_GT(sample.cpu_percent, 1.0) << "a busy loop must show";
  EXPECT_LE(sample.cpu_percent, 100.0 * cores * 1.1);
  EXPECT_GT(sample.at, 0u);
  EXPECT_EQ(collector.tracked(), 1u);
}

TEST_F(AgentHandler, UsageCollectorFollowsSessionsComingAndGoing) {
  UsageCollector collector(*backend_);
  EXPECT_TRUE(collector.Collect().samples.empty());
  std::string id = CreateSession("ah-follow");
  EXPECT_EQ(collector.Collect().samples.size(), 1u);
  ASSERT_FALSE(Send(ActionRequest(id, SessionActionKind::kEnd)).error);
  EXPECT_TRUE(collector.Collect().samples.empty());
  EXPECT_EQ(collector.tracked(), 0u);
}

TEST_F(AgentHandler, EndRemovesRunDirAndCgroup) {
  std::string id = CreateSession("ah-end");
  ASSERT_TRUE(backend_->Cgroups().Exists(id));
  wire::Envelope reply = Send(ActionRequest(id, SessionActionKind::kEnd));
  ASSERT_FALSE(reply.error) << reply.error->message;
  EXPECT_EQ(reply.body.value("state", ""), "ended");
  EXPECT_FALSE(moat::test::Exists(SessionDir(id)));
  EXPECT_FALSE(backend_->Cgroups().Exists(id));
  EXPECT_FALSE(backend_->manager().Find(id));
  EXPECT_EQ(SessionCount(), 0u);
}

// --- bad requests: an error reply, and nothing changes -------------------------------------

TEST_F(AgentHandler, UnknownSessionIsNotFound) {
  wire::SessionLimits limits;
  limits.pids_max = 10;
  for (const auto& request : {SetLimitsRequest("no-such-session", limits),
                              ActionRequest("no-such-session", SessionActionKind::kSuspend),
                              ActionRequest("no-such-session", SessionActionKind::kResume),
                              ActionRequest("no-such-session", SessionActionKind::kEnd)}) {
    wire::Envelope reply = Send(request);
    ASSERT_TRUE(reply.error) << request.type;
    EXPECT_EQ(reply.error->code, "not_found") << reply.error->message;
  }
  EXPECT_EQ(SessionCount(), 0u);
}

TEST_F(AgentHandler, BadLimitsAreRefusedAndChangeNothing) {
  wire::SessionLimits start;
  start.pids_max = 64;
  start.memory_max = 128ull << 20;
  std::string id = CreateSession("ah-bad", start);
  auto before = backend_->manager().ReadLimits(id, "");
  ASSERT_TRUE(before);

  wire::SessionLimits tiny_memory;  // a valid key first, then a bad one: neither is applied
  tiny_memory.pids_max = 10;
  tiny_memory.memory_max = 1;
  wire::SessionLimits tiny_cpu;
  tiny_cpu.cpu_percent = 0.5;
  wire::SessionLimits zero_weight;
  zero_weight.cpu_weight = 0;
  wire::SessionLimits no_device;
  no_device.io_devices.push_back({"/dev/no-such-disk", 1 << 20, {}, {}, {}});
  for (const auto& limits : {tiny_memory, tiny_cpu, zero_weight, no_device}) {
    wire::Envelope reply = Send(SetLimitsRequest(id, limits));
    ASSERT_TRUE(reply.error);
    EXPECT_EQ(reply.error->code, "invalid_argument") << reply.error->message;
  }
  auto after = backend_->manager().ReadLimits(id, "");
  ASSERT_TRUE(after);
  EXPECT_EQ(*after, *before);
}

TEST_F(AgentHandler, UnknownTypeIsInvalidArgument) {
  wire::Envelope request{
      "session.teleport", wire::NewMessageId(), std::nullopt, {{"session_id", "x"}}, std::nullopt};
  wire::Envelope reply = Send(request);
  ASSERT_TRUE(reply.error);
  EXPECT_EQ(reply.error->code, "invalid_argument");
  EXPECT_EQ(SessionCount(), 0u);
}

TEST_F(AgentHandler, BadCreateBodiesAreRefusedAndLeaveNoTrace) {
  wire::Envelope missing_user = CreateRequest("ah-nouser");
  missing_user.body.erase("user");
  wire::Envelope vm = CreateRequest("ah-vm");
  vm.body["backend"] = "vm";
  wire::Envelope bad_limits = CreateRequest("ah-badlim");
  bad_limits.body["limits"] = {{"memory_max", 5}};
  wire::Envelope bad_id = CreateRequest("ah-x");
  bad_id.body["session_id"] = "Bad/Id";
  for (const auto& request : {missing_user, vm, bad_limits, bad_id}) {
    wire::Envelope reply = Send(request);
    ASSERT_TRUE(reply.error) << request.body.dump();
    EXPECT_EQ(reply.error->code, "invalid_argument") << reply.error->message;
  }
  wire::Envelope no_such_user = CreateRequest("ah-nosuchuser");
  no_such_user.body["user"] = "moat-no-such-user";
  wire::Envelope reply = Send(no_such_user);
  ASSERT_TRUE(reply.error);
  EXPECT_NE(reply.error->code, "internal") << reply.error->message;
  EXPECT_EQ(SessionCount(), 0u);
  EXPECT_TRUE(moat::test::ListDir(run_dir_.path() + "/sessions").empty());
  for (const char* id : {"ah-nouser", "ah-vm", "ah-badlim", "ah-nosuchuser"}) {
    EXPECT_FALSE(backend_->Cgroups().Exists(id)) << id;
  }
}

TEST_F(AgentHandler, CreatingAnExistingSessionIsAConflict) {
  std::string id = CreateSession("ah-dup");
  wire::Envelope reply = Send(CreateRequest(id));
  ASSERT_TRUE(reply.error);
  EXPECT_EQ(reply.error->code, "conflict") << reply.error->message;
  auto info = backend_->manager().Find(id);
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->running) << "the first session must be untouched";
}

TEST_F(AgentHandler, RepliesAreNotAnswered) {
  wire::Envelope request = ActionRequest("x", SessionActionKind::kEnd);
  wire::Envelope reply = wire::MakeErrorReply(request, "not_found", "no");
  EXPECT_FALSE(handler_->Handle(reply));
}

}  // namespace
}  // namespace moat::agent::test
