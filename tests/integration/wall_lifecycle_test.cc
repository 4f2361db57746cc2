// moat-init's duties (reaping, exit codes, SIGTERM then SIGKILL) and clean teardown.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>

#include "test_support.h"

namespace moat::test {
namespace {

class WallLifecycle : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { EnsureUser("moat-wall-a"); }

  // Every trace a session could leave on the host, listed.
  std::vector<std::string> Traces(const std::string& id) {
    std::vector<std::string> traces;
    for (const auto& entry : ListDir(sandbox_.run_dir() + "/sessions")) {
      traces.push_back("run dir entry " + entry);
    }
    for (const auto& lease : LeasesOf(sandbox_.run_dir()))
      traces.push_back("id range lease " + lease);
    for (const char* controller : {"cpu", "cpuacct", "memory", "pids", "freezer", "blkio", ""}) {
      std::string path = std::string("/sys/fs/cgroup/") + controller + "/moat/" + id;
      if (Exists(path)) traces.push_back("cgroup " + path);
    }
    if (ReadFile("/proc/self/mountinfo").find(sandbox_.run_dir()) != std::string::npos) {
      traces.push_back("host mount under the run dir");
    }
    // A zombie moat-init of a detached session is its parent's to reap (host init here, the
    // agent in production); it holds no resources, so only live processes count.
    auto ps =
        RunCommand({"ps", "-u", std::to_string(UidOf("moat-wall-a")), "-o", "stat=,pid=,comm="});
    std::istringstream lines(ps.out);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty() && line[0] != 'Z') traces.push_back("process of the session user: " + line);
    }
    return traces;
  }

  ScratchRunDir run_dir_;
  Sandbox sandbox_{run_dir_};
};

TEST_F(WallLifecycle, ForegroundRunReturnsTheCommandsExitStatus) {
  EXPECT_EQ(sandbox_.Sh("moat-wall-a", "exit 7").exit_code, 7);
  EXPECT_EQ(sandbox_.Sh("moat-wall-a", "kill -9 $$").exit_code, 137);
  auto missing = sandbox_.Cli({"run", "--user", "moat-wall-a", "--", "/no/such/program"});
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_NE(missing.err.find("No such file"), std::string::npos) << missing.err;
  // Found but not runnable: 126, as a shell says, whatever the errno.
  for (const char* path : {"/etc/passwd", "/etc/passwd/x", "/tmp"}) {
    auto r = sandbox_.Cli({"run", "--user", "moat-wall-a", "--", path});
    EXPECT_EQ(r.exit_code, 126) << path << ": " << r.err;
  }
}

TEST_F(WallLifecycle, ForegroundRunLeavesNothingBehind) {
  std::string id = UniqueId("fg");
  auto r = sandbox_.Sh("moat-wall-a", "sleep 300 & sleep 300 & echo started", {"--id", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Traces(id), std::vector<std::string>{});
}

TEST_F(WallLifecycle, StopOfADetachedSessionLeavesNothingBehind) {
  std::string id = UniqueId("bg");
  sandbox_.Detach("moat-wall-a", {"--id", id}, {"/bin/sh", "-c", "sleep 300 & sleep 300"});
  EXPECT_TRUE(Exists("/sys/fs/cgroup/pids/moat/" + id) || Exists("/sys/fs/cgroup/moat/" + id));
  sandbox_.Stop(id);
  EXPECT_EQ(Traces(id), std::vector<std::string>{});
}

// Ctrl-C (or a service manager's SIGTERM) may come at any moment of a foreground run: while
// the wall is being built too. Whenever it lands, nothing may be left behind.
TEST_F(WallLifecycle, AStopSignalAtAnyMomentOfARunLeavesNothingBehind) {
  std::string log = sandbox_.run_dir() + "/cli.log";
  for (int delay_us = 0; delay_us <= 12000; delay_us += 400) {
    for (int sig : {SIGINT, SIGTERM}) {
      std::string id = UniqueId("sig");
      pid_t cli = SpawnLogged({MOAT_SANDBOX_BIN, "--run-dir", sandbox_.run_dir(), "run", "--id", id,
                               "--user", "moat-wall-a", "--no-tty", "--", "/bin/sleep", "30"},
                              log, log);
      ASSERT_GT(cli, 0);
      ::usleep(static_cast<useconds_t>(delay_us));
      ::kill(cli, sig);
      int status = 0;
      pid_t done = 0;
      for (int waited_ms = 0; waited_ms < 10000 && done == 0; waited_ms += 10) {
        done = ::waitpid(cli, &status, WNOHANG);
        if (done == 0) ::usleep(10000);
      }
      if (done == 0) {
        ::kill(cli, SIGKILL);
        ::waitpid(cli, nullptr, 0);
        FAIL() << "moat-sandbox run ignored signal " << sig << " sent after " << delay_us << " us";
      }
      EXPECT_EQ(Traces(id), std::vector<std::string>{})
          << "signal " << sig << " after " << delay_us << " us; CLI said: " << ReadFile(log);
    }
  }
  ::unlink(log.c_str());
}

TEST_F(WallLifecycle, InitReapsOrphans) {
  std::string id = sandbox_.Detach("moat-wall-a");
  // Each shell exits at once, leaving a short-lived grandchild to moat-init.
  for (int i = 0; i < 5; ++i) ASSERT_EQ(sandbox_.Exec(id, "(sleep 0.1 &) ; exit 0").exit_code, 0);
  usleep(600 * 1000);
  auto ps = sandbox_.Exec(id, "ps -e -o stat= | grep -c Z || true");
  EXPECT_EQ(Trim(ps.out), "0") << "zombies left in the session";
  sandbox_.Stop(id);
}

TEST_F(WallLifecycle, StopSendsSigtermFirstSoApplicationsCanSave) {
  std::string id = UniqueId("term");
  std::string marker = HomeOf("moat-wall-a") + "/" + id + ".saved";
  sandbox_.Detach("moat-wall-a", {"--id", id},
                  {"/bin/sh", "-c",
                   "trap 'echo saved > " + marker +
                       "; exit 0' TERM; "
                       "while true; do sleep 0.05; done"});
  usleep(200 * 1000);
  sandbox_.Stop(id);
  EXPECT_EQ(ReadFile(marker), "saved\n");
  unlink(marker.c_str());
}

TEST_F(WallLifecycle, StopKillsWhatIgnoresSigtermAfterTheGrace) {
  std::string id = UniqueId("kill");
  sandbox_.Detach("moat-wall-a", {"--id", id},
                  {"/bin/sh", "-c", "trap '' TERM; while true; do sleep 0.05; done"});
  auto started = std::chrono::steady_clock::now();
  auto r = sandbox_.Cli({"stop", id, "--grace", "0.3"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_EQ(Traces(id), std::vector<std::string>{});
}

TEST_F(WallLifecycle, ExecEntersTheSameRunningSession) {
  std::string id = sandbox_.Detach("moat-wall-a");
  ASSERT_EQ(sandbox_.Exec(id, "echo one > /tmp/state").exit_code, 0);
  EXPECT_EQ(sandbox_.Exec(id, "cat /tmp/state; echo $MOAT_SESSION_ID").out, "one\n" + id + "\n");
  EXPECT_EQ(sandbox_.Exec(id, "exit 3").exit_code, 3);
  sandbox_.Stop(id);
  auto after = sandbox_.Cli({"exec", id, "--", "true"});
  EXPECT_EQ(after.exit_code, 125);
  EXPECT_NE(after.err.find("no session"), std::string::npos) << after.err;
}

TEST_F(WallLifecycle, ListShowsRunningSessions) {
  std::string id = sandbox_.Detach("moat-wall-a");
  auto list = sandbox_.Cli({"list"});
  EXPECT_NE(list.out.find(id), std::string::npos);
  EXPECT_NE(list.out.find("running"), std::string::npos);
  sandbox_.Stop(id);
  EXPECT_EQ(sandbox_.Cli({"list"}).out.find(id), std::string::npos);
}

}  // namespace
}  // namespace moat::test
