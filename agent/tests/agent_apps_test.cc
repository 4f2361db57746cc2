// Applications inside a session over the agent link, against real walls: app.launch, app.ps,
// app.kill and session.get_limits through MessageHandler and the sandbox backend.
#include <pwd.h>

#include <algorithm>
#include <thread>

#include "agent_test_support.h"

namespace moat::agent::test {
namespace {

using namespace std::chrono_literals;

wire::Envelope LaunchRequest(const std::string& id, std::vector<std::string> argv,
                             std::optional<double> cpu_percent = std::nullopt) {
  return wire::MakeMessage(
      wire::AppLaunch{id, std::move(argv), {"MOAT_TEST=1"}, std::nullopt, cpu_percent});
}

wire::Envelope PsRequest(const std::string& id) { return wire::MakeMessage(wire::AppPs{id}); }

wire::Envelope KillRequest(const std::string& id, uint64_t pid, int signal = 15) {
  return wire::MakeMessage(wire::AppKill{id, pid, signal});
}

wire::Envelope GetLimitsRequest(const std::string& id, std::optional<std::string> app) {
  return wire::MakeMessage(wire::SessionGetLimits{id, std::move(app)});
}

class AgentApps : public AgentTest {
 protected:
  wire::AppLaunched Launch(const std::string& id, std::vector<std::string> argv,
                           std::optional<double> cpu_percent = std::nullopt) {
    wire::Envelope reply = Send(LaunchRequest(id, std::move(argv), cpu_percent));
    EXPECT_FALSE(reply.error) << reply.error->code << ": " << reply.error->message;
    auto launched = wire::DecodeBody<wire::AppLaunched>(reply);
    EXPECT_TRUE(launched) << launched.error().message();
    return launched.value_or(wire::AppLaunched{});
  }

  std::vector<wire::ProcessInfo> Ps(const std::string& id) {
    wire::Envelope reply = Send(PsRequest(id));
    EXPECT_FALSE(reply.error) << reply.error->code << ": " << reply.error->message;
    auto list = wire::DecodeBody<wire::ProcessList>(reply);
    EXPECT_TRUE(list) << list.error().message();
    if (!list) return {};
    EXPECT_EQ(list->session_id, id);
    return list->processes;
  }

  std::optional<wire::ProcessInfo> FindProcess(const std::string& id, uint64_t pid) {
    for (auto& process : Ps(id)) {
      if (process.pid == pid) return process;
    }
    return std::nullopt;
  }

  void ExpectError(const wire::Envelope& request, const std::string& code) {
    wire::Envelope reply = Send(request);
    ASSERT_TRUE(reply.error) << request.type << " " << request.body.dump();
    EXPECT_EQ(reply.error->code, code) << request.body.dump() << ": " << reply.error->message;
  }

  // Only moat-init runs, and no application group was made.
  void ExpectNothingLaunched(const std::string& id) {
    auto processes = Ps(id);
    ASSERT_EQ(processes.size(), 1u) << processes.back().command;
    EXPECT_EQ(processes[0].pid, 1u);
    auto apps = backend_->ListApps(id);
    ASSERT_TRUE(apps) << apps.error().message();
    EXPECT_TRUE(apps->empty()) << apps->front();
  }
};

TEST_F(AgentApps, LaunchedAppShowsInPsWithItsGroupAndCommand) {
  std::string id = CreateSession("aa-ps");
  wire::AppLaunched launched = Launch(id, {"/bin/sleep", "300"});
  EXPECT_EQ(launched.session_id, id);
  EXPECT_GT(launched.pid, 1u);
  EXPECT_EQ(launched.app.rfind("app-", 0), 0u) << launched.app;

  auto sleep = FindProcess(id, launched.pid);
  ASSERT_TRUE(sleep) << "pid " << launched.pid << " not listed";
  EXPECT_EQ(sleep->app, launched.app);
  EXPECT_EQ(sleep->command, "/bin/sleep 300");
  EXPECT_EQ(sleep->ppid, 1u);
  struct passwd* user = ::getpwnam(kTestUser);
  ASSERT_NE(user, nullptr);
  EXPECT_EQ(sleep->uid, user->pw_uid) << "the uid as the session sees it";
  EXPECT_EQ(sleep->state.size(), 1u);
  EXPECT_GT(sleep->rss_bytes, 0u);

  auto init = FindProcess(id, 1);
  ASSERT_TRUE(init);
  EXPECT_EQ(init->app, "");
  EXPECT_EQ(init->ppid, 0u);
  EXPECT_NE(init->command.find("moat-init"), std::string::npos) << init->command;
}

TEST_F(AgentApps, ChildrenOfAnAppAreInItsGroup) {
  std::string id = CreateSession("aa-child");
  wire::AppLaunched launched = Launch(id, {"/bin/sh", "-c", "/bin/sleep 301 & wait"});
  std::optional<wire::ProcessInfo> child;
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       !child && std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(50ms)) {
    for (auto& process : Ps(id)) {
      if (process.command == "/bin/sleep 301") child = process;
    }
  }
  ASSERT_TRUE(child) << "the shell's child never showed";
  EXPECT_EQ(child->ppid, launched.pid);
  EXPECT_EQ(child->app, launched.app);
}

TEST_F(AgentApps, KillEndsTheAppAndItLeavesPs) {
  std::string id = CreateSession("aa-kill");
  wire::AppLaunched launched = Launch(id, {"/bin/sleep", "300"});
  ASSERT_TRUE(FindProcess(id, launched.pid));

  wire::Envelope reply = Send(KillRequest(id, launched.pid));
  ASSERT_FALSE(reply.error) << reply.error->message;
  auto killed = wire::DecodeBody<wire::AppKilled>(reply);
  ASSERT_TRUE(killed) << killed.error().message();
  EXPECT_EQ(*killed, (wire::AppKilled{id, launched.pid}));

  bool gone = false;
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       !gone && std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(50ms)) {
    gone = !FindProcess(id, launched.pid);
  }
  EXPECT_TRUE(gone) << "pid " << launched.pid << " still listed 5 s after SIGTERM";
  // Signalling it again: it is not there any more.
  ExpectError(KillRequest(id, launched.pid, 9), "not_found");
}

TEST_F(AgentApps, KillingMoatInitIsRefusedAndTheSessionRuns) {
  std::string id = CreateSession("aa-init");
  ExpectError(KillRequest(id, 1, 9), "invalid_argument");
  ExpectError(KillRequest(id, 1), "invalid_argument");
  std::this_thread::sleep_for(100ms);
  auto info = backend_->manager().Find(id);
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_TRUE(info->running);
  EXPECT_TRUE(FindProcess(id, 1));
  // The backend refuses it too, whoever calls it.
  auto direct = backend_->Signal(id, 1, 9);
  ASSERT_FALSE(direct);
  EXPECT_EQ(WireErrorCode(direct.error()), "invalid_argument");
}

TEST(WireErrorCode, LimitsTheHostCannotCarryAreTheRequestsFault) {
  for (int err : {EINVAL, ENOTSUP}) {
    EXPECT_EQ(WireErrorCode(Error(std::error_code(err, std::generic_category()), "x")),
              "invalid_argument")
        << err;
  }
  for (int err : {EIO, ENODEV}) {
    EXPECT_EQ(WireErrorCode(Error(std::error_code(err, std::generic_category()), "x")), "internal");
  }
}

TEST_F(AgentApps, UnknownSessionProcessOrAppIsNotFound) {
  for (const auto& request :
       {LaunchRequest("no-such-session", {"/bin/true"}), PsRequest("no-such-session"),
        KillRequest("no-such-session", 42), GetLimitsRequest("no-such-session", std::nullopt)}) {
    ExpectError(request, "not_found");
  }
  std::string id = CreateSession("aa-unknown");
  ExpectError(KillRequest(id, 4000000), "not_found");
  ExpectError(GetLimitsRequest(id, "app-999"), "not_found");
  EXPECT_EQ(SessionCount(), 1u);
}

TEST_F(AgentApps, BadBodiesAreInvalidAndLaunchNothing) {
  std::string id = CreateSession("aa-bad");
  wire::Envelope missing_argv = LaunchRequest(id, {"/bin/sleep", "300"});
  missing_argv.body.erase("argv");
  wire::Envelope empty_argv = LaunchRequest(id, {"/bin/sleep", "300"});
  empty_argv.body["argv"] = wire::Json::array();
  wire::Envelope unknown_key = LaunchRequest(id, {"/bin/sleep", "300"});
  unknown_key.body["tty"] = true;
  wire::Envelope relative_cwd = LaunchRequest(id, {"/bin/sleep", "300"});
  relative_cwd.body["cwd"] = "tmp";
  // Passes the codec (> 0) but not the sandbox (1..102400): refused before anything starts.
  wire::Envelope tiny_cap = LaunchRequest(id, {"/bin/sleep", "300"}, 0.5);
  for (const auto& request : {missing_argv, empty_argv, unknown_key, relative_cwd, tiny_cap}) {
    ExpectError(request, "invalid_argument");
  }
  wire::Envelope signal_zero = KillRequest(id, 2);
  signal_zero.body["signal"] = 0;
  wire::Envelope signal_99 = KillRequest(id, 2);
  signal_99.body["signal"] = 99;
  wire::Envelope ps_extra = PsRequest(id);
  ps_extra.body["all"] = true;
  wire::Envelope bad_app = GetLimitsRequest(id, "app-1");
  bad_app.body["app"] = "../..";
  for (const auto& request : {signal_zero, signal_99, ps_extra, bad_app}) {
    ExpectError(request, "invalid_argument");
  }
  ExpectNothingLaunched(id);
}

TEST_F(AgentApps, AppCpuPercentCapsTheAppsGroup) {
  std::string id = CreateSession("aa-cap");
  wire::AppLaunched launched = Launch(id, {"/bin/sleep", "300"}, 25);

  wire::Envelope reply = Send(GetLimitsRequest(id, launched.app));
  ASSERT_FALSE(reply.error) << reply.error->message;
  auto report = wire::DecodeBody<wire::SessionLimitsReport>(reply);
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(report->session_id, id);
  EXPECT_EQ(report->app, launched.app);
  EXPECT_EQ(report->limits.cpu_percent, 25.0);

  // The session's own cap is untouched.
  reply = Send(GetLimitsRequest(id, std::nullopt));
  ASSERT_FALSE(reply.error) << reply.error->message;
  report = wire::DecodeBody<wire::SessionLimitsReport>(reply);
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_FALSE(report->app);
  EXPECT_NE(report->limits.cpu_percent, 25.0);
}

TEST_F(AgentApps, GetLimitsReadsBackTheSessionsLimits) {
  wire::SessionLimits limits;
  limits.cpu_percent = 50;
  limits.pids_max = 100;
  limits.memory_max = 256ull << 20;
  std::string id = CreateSession("aa-get", limits);
  wire::Envelope reply = Send(GetLimitsRequest(id, std::nullopt));
  ASSERT_FALSE(reply.error) << reply.error->message;
  auto report = wire::DecodeBody<wire::SessionLimitsReport>(reply);
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(report->limits.cpu_percent, 50.0);
  EXPECT_EQ(report->limits.pids_max, 100u);
  EXPECT_EQ(report->limits.memory_max, 256ull << 20);
}

TEST_F(AgentApps, PsWorksWhileSuspendedAndLaunchIsAConflict) {
  std::string id = CreateSession("aa-frozen");
  wire::AppLaunched launched = Launch(id, {"/bin/sleep", "300"});
  ASSERT_FALSE(Send(ActionRequest(id, wire::SessionActionKind::kSuspend)).error);
  EXPECT_TRUE(FindProcess(id, launched.pid));
  ExpectError(LaunchRequest(id, {"/bin/sleep", "1"}), "conflict");
  ASSERT_FALSE(Send(ActionRequest(id, wire::SessionActionKind::kResume)).error);
}

}  // namespace
}  // namespace moat::agent::test
