// The sandbox backend's own operations beyond what the wire carries yet: applications and
// their sub-groups, and the clean-up of sessions that ended by themselves.
#include <signal.h>
#include <sys/wait.h>

#include <thread>

#include "agent_test_support.h"
#include "stdio_link.h"

namespace moat::agent::test {
namespace {

class AgentBackend : public AgentTest {};

TEST_F(AgentBackend, KindIsSandbox) { EXPECT_EQ(backend_->Kind(), "sandbox"); }

TEST_F(AgentBackend, LaunchedAppGetsItsOwnGroupWithItsOwnLimits) {
  std::string id = CreateSession("ab-app");
  auto launched = backend_->Launch(id, {{"/bin/sleep", "60"}, {}, "", {}});
  ASSERT_TRUE(launched) << launched.error().message();
  EXPECT_GT(launched->pid, 1);
  ASSERT_FALSE(launched->app.empty());
  auto apps = backend_->ListApps(id);
  ASSERT_TRUE(apps) << apps.error().message();
  EXPECT_EQ(*apps, std::vector<std::string>{launched->app});

  wire::SessionLimits limits;
  limits.pids_max = 5;
  ASSERT_TRUE(backend_->SetLimits(id, launched->app, limits));
  auto app_limits = backend_->ReadLimits(id, launched->app);
  ASSERT_TRUE(app_limits) << app_limits.error().message();
  EXPECT_EQ(app_limits->pids_max, 5u);
  auto session_limits = backend_->ReadLimits(id, "");
  ASSERT_TRUE(session_limits);
  EXPECT_NE(session_limits->pids_max, 5u) << "the session's own limit must be untouched";
  auto usage = backend_->Usage(id, launched->app);
  ASSERT_TRUE(usage) << usage.error().message();
  EXPECT_EQ(usage->pids_current, 1u);
}

TEST_F(AgentBackend, LaunchIntoAnUnknownSessionFails) {
  auto launched = backend_->Launch("no-such-session", {{"/bin/true"}, {}, "", {}});
  ASSERT_FALSE(launched);
  EXPECT_EQ(WireErrorCode(launched.error()), "not_found") << launched.error().message();
}

TEST_F(AgentBackend, SessionThatEndedByItselfIsCleanedUp) {
  std::string id = CreateSession("ab-self");
  auto info = backend_->manager().Find(id);
  ASSERT_TRUE(info);
  ASSERT_EQ(::kill(info->pid, SIGKILL), 0);  // the pid namespace goes with its init
  ::waitpid(info->pid, nullptr, 0);

  auto listed = backend_->List();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_FALSE((*listed)[0].running);
  EXPECT_TRUE(handler_->MakeHello().sessions.empty()) << "an ended session is not re-adopted";

  ReapEndedSessions(*backend_);
  EXPECT_EQ(SessionCount(), 0u);
  EXPECT_FALSE(moat::test::Exists(SessionDir(id)));
  EXPECT_FALSE(backend_->Cgroups().Exists(id));
}

}  // namespace
}  // namespace moat::agent::test
