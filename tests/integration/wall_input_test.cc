// Bad flags, bad specs and failures part-way through set-up: a clear error, nothing created.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace moat::test {
namespace {

class WallInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { EnsureUser("moat-wall-a"); }

  void ExpectNothingCreated(const std::string& id) {
    EXPECT_EQ(ListDir(sandbox_.run_dir() + "/sessions"), std::vector<std::string>{});
    EXPECT_EQ(LeasesOf(sandbox_.run_dir()), std::vector<std::string>{});
    EXPECT_FALSE(Exists("/sys/fs/cgroup/pids/moat/" + id));
    EXPECT_FALSE(Exists("/sys/fs/cgroup/moat/" + id));
  }

  void ExpectRefused(const std::vector<std::string>& args, const std::string& message) {
    std::string id = UniqueId("bad");
    std::vector<std::string> full = {"run", "--id", id};
    full.insert(full.end(), args.begin(), args.end());
    bool had_sessions_dir = Exists(sandbox_.run_dir() + "/sessions");
    auto r = sandbox_.Cli(full);
    EXPECT_EQ(r.exit_code, 125) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << "stderr: " << r.err;
    ExpectNothingCreated(id);
    if (!had_sessions_dir) {
      EXPECT_FALSE(Exists(sandbox_.run_dir() + "/sessions")) << "a refused run made the run dir";
    }
  }

  ScratchRunDir run_dir_;
  Sandbox sandbox_{run_dir_};
};

TEST_F(WallInput, BadFlagsAreRefused) {
  ExpectRefused({"--user", "moat-wall-a", "--frobnicate", "--", "true"},
                "unknown flag '--frobnicate'");
  ExpectRefused({"--user", "moat-wall-a"}, "no command");
  ExpectRefused({"--user", "moat-wall-a", "--upper-size", "lots", "--", "true"}, "size 'lots'");
  ExpectRefused({"--user", "moat-wall-a", "--env", "=x", "--", "true"}, "NAME=VALUE");
  ExpectRefused({"--user"}, "needs a value");
  ExpectRefused({"--user", "moat-wall-a", "--spec"}, "'--spec' needs a value");
  ExpectRefused({"--user", "moat-wall-a", "--cpu", "inf", "--", "true"}, "--cpu 'inf'");
  ExpectRefused({"--user", "moat-wall-a", "--cpu", "nan", "--", "true"}, "--cpu 'nan'");
  // The largest number would silently mean "max".
  ExpectRefused({"--user", "moat-wall-a", "--pids", "18446744073709551615", "--", "true"},
                "use 'max'");
  ExpectRefused({"--user", "moat-wall-a", "--memory", "18446744073709551615", "--", "true"},
                "use 'max'");
  ExpectRefused({"--user", "moat-wall-a", "--seccomp-profile", "lax", "--", "true"},
                "unknown seccomp profile 'lax'");
}

TEST_F(WallInput, AnIdEndingInADashStillGetsAValidDefaultHostname) {
  std::string id = UniqueId("dash") + "-";
  auto r = sandbox_.Cli({"run", "--id", id, "--user", "moat-wall-a", "--", "hostname"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "moat-" + id.substr(0, id.size() - 1) + "\n");
  ExpectRefused({"--user", "moat-wall-a", "--hostname", "-..-", "--", "true"}, "not a host name");
}

TEST_F(WallInput, HelpAfterACommandPrintsTheUsage) {
  for (const char* command : {"run", "exec", "stop", "list", "set"}) {
    auto r = sandbox_.Cli({command, "--help"});
    EXPECT_EQ(r.exit_code, 0) << command << ": " << r.err;
    EXPECT_NE(r.out.find("usage: moat-sandbox"), std::string::npos) << command;
  }
  EXPECT_FALSE(Exists(sandbox_.run_dir() + "/sessions"));
}

TEST_F(WallInput, AWorkingDirectoryThatIsNotThereIsAnErrorNotSlash) {
  std::string id = sandbox_.Detach("moat-wall-a");
  auto missing = sandbox_.Cli({"exec", id, "--cwd", "/no/such/dir", "--", "pwd"});
  EXPECT_EQ(missing.exit_code, 125) << missing.out;
  EXPECT_EQ(missing.out, "");
  EXPECT_NE(missing.err.find("chdir '/no/such/dir'"), std::string::npos) << missing.err;
  EXPECT_EQ(sandbox_.Cli({"exec", id, "--cwd", "/tmp", "--", "pwd"}).out, "/tmp\n");
  sandbox_.Stop(id);
}

TEST_F(WallInput, BadUsersAreRefused) {
  ExpectRefused({"--", "true"}, "no user");
  ExpectRefused({"--user", "root", "--", "true"}, "host root");
  ExpectRefused({"--user", "no-such-moat-user", "--", "true"}, "unknown user 'no-such-moat-user'");
}

TEST_F(WallInput, BadSpecValuesAreRefused) {
  ExpectRefused({"--user", "moat-wall-a", "--root", "/nonexistent", "--", "true"},
                "root '/nonexistent'");
  ExpectRefused({"--user", "moat-wall-a", "--bind", "/nonexistent:/x", "--", "true"},
                "bind source");
  ExpectRefused({"--user", "moat-wall-a", "--ro-bind", "/usr:/proc/x", "--", "true"},
                "reserved '/proc'");
  ExpectRefused({"--user", "moat-wall-a", "--ro-bind", "/usr:/a/../etc", "--", "true"},
                "bind target");
  ExpectRefused({"--user", "moat-wall-a", "--hostname", "a b", "--", "true"}, "hostname");
  auto r = sandbox_.Cli({"run", "--id", "Bad_ID", "--user", "moat-wall-a", "--", "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("session id 'Bad_ID' is invalid"), std::string::npos) << r.err;
}

TEST_F(WallInput, BadSpecFilesAreRefused) {
  char path[] = "/tmp/moat-spec-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string body = R"({"user":"moat-wall-a","colour":"blue"})";
  ASSERT_EQ(write(fd, body.data(), body.size()), static_cast<ssize_t>(body.size()));
  close(fd);
  ExpectRefused({"--spec", path, "--", "true"}, "unknown key 'colour'");
  ExpectRefused({"--spec", "/nonexistent.json", "--", "true"}, "/nonexistent.json");
  unlink(path);
}

TEST_F(WallInput, DuplicateIdIsRefusedAndTheFirstSessionIsUntouched) {
  std::string id = sandbox_.Detach("moat-wall-a");
  auto r = sandbox_.Cli({"run", "--id", id, "--user", "moat-wall-a", "--", "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  EXPECT_EQ(sandbox_.Exec(id, "echo alive").out, "alive\n");
  sandbox_.Stop(id);
}

// Another manager (its own run directory) must neither share the session's cgroup nor its
// host id range.
TEST_F(WallInput, AnotherRunDirectoryGetsNeitherTheSameCgroupNorTheSameIdRange) {
  ScratchRunDir other_dir;
  Sandbox other(other_dir);
  std::string id = sandbox_.Detach("moat-wall-a");
  auto clash = other.Cli({"run", "--id", id, "--user", "moat-wall-a", "--", "true"});
  EXPECT_EQ(clash.exit_code, 125);
  EXPECT_NE(clash.err.find("exists already"), std::string::npos) << clash.err;
  EXPECT_EQ(sandbox_.Exec(id, "echo alive").out, "alive\n");
  std::string second = other.Detach("moat-wall-a");
  auto mine = nlohmann::json::parse(sandbox_.Cli({"list", "--json"}).out);
  auto theirs = nlohmann::json::parse(other.Cli({"list", "--json"}).out);
  ASSERT_EQ(mine.size(), 1u);
  ASSERT_EQ(theirs.size(), 1u);
  EXPECT_NE(mine[0]["host_id_base"], theirs[0]["host_id_base"]);
  other.Stop(second);
  sandbox_.Stop(id);
}

// A bind target under a regular file passes validation but fails in moat-init while the root
// is built: the error names the step and errno, and everything is rolled back.
TEST_F(WallInput, SetupFailurePartWayIsRolledBackAndNamesTheStep) {
  std::string id = UniqueId("rollback");
  auto r = sandbox_.Cli({"run", "--id", id, "--user", "moat-wall-a", "--ro-bind",
                         "/usr:/etc/passwd/inside", "--", "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("build root: bind mounts"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Not a directory"), std::string::npos) << r.err;
  ExpectNothingCreated(id);
}

// A user plants a symlink in their home, hoping that an admin's bind target beneath it makes
// the wall create a mount point on a host path as root.
TEST_F(WallInput, ABindTargetThroughAUserPlantedSymlinkIsRefused) {
  std::string home = HomeOf("moat-wall-a");
  std::string link = home + "/planted-" + UniqueId("l");
  std::string host_dir = "/var/tmp/" + UniqueId("moat-victim-dir");
  ASSERT_EQ(mkdir(host_dir.c_str(), 0755), 0);
  ASSERT_EQ(symlink(host_dir.c_str(), link.c_str()), 0);
  std::string id = UniqueId("symlink");
  auto r = sandbox_.Cli({"run", "--id", id, "--user", "moat-wall-a", "--ro-bind",
                         "/etc:" + link + "/created", "--", "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("symlink"), std::string::npos) << r.err;
  EXPECT_FALSE(Exists(host_dir + "/created")) << "the wall created a directory on the host";
  ExpectNothingCreated(id);
  unlink(link.c_str());
  rmdir((host_dir + "/created").c_str());
  rmdir(host_dir.c_str());
}

TEST_F(WallInput, UnknownSessionsGetAClearError) {
  auto list = sandbox_.Cli({"list"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  auto stop = sandbox_.Cli({"stop", "nope"});
  EXPECT_EQ(stop.exit_code, 125);
  EXPECT_NE(stop.err.find("no session 'nope'"), std::string::npos) << stop.err;
  auto bad = sandbox_.Cli({"stop", "../etc"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_NE(bad.err.find("invalid"), std::string::npos) << bad.err;
  for (const char* grace : {"nan", "inf", "", "-1", "1e9"}) {
    auto r = sandbox_.Cli({"stop", "nope", "--grace", grace});
    EXPECT_EQ(r.exit_code, 125);
    EXPECT_NE(r.err.find("must be 0..3600 seconds"), std::string::npos) << grace << ": " << r.err;
  }
  auto no_value = sandbox_.Cli({"exec", "nope", "--env"});
  EXPECT_NE(no_value.err.find("'--env' needs a value"), std::string::npos) << no_value.err;
  auto no_equals = sandbox_.Cli({"exec", "nope", "--env", "NOEQ", "--", "true"});
  EXPECT_NE(no_equals.err.find("must be NAME=VALUE"), std::string::npos) << no_equals.err;
  // Neither a list, nor a stop or exec of an unknown session, makes the run directory.
  EXPECT_FALSE(Exists(sandbox_.run_dir() + "/sessions"));
}

}  // namespace
}  // namespace moat::test
