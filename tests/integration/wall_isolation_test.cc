// Identity, processes, capabilities, seccomp and network of a session, checked from inside.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace moat::test {
namespace {

class WallIsolation : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    EnsureUser("moat-wall-a");
    EnsureUser("moat-wall-b");
  }
  ScratchRunDir run_dir_;
  Sandbox sandbox_{run_dir_};
};

TEST_F(WallIsolation, UserKeepsItsOwnUidAndGidInside) {
  auto r = sandbox_.Sh("moat-wall-a", "id -u; id -g; id -un; echo $HOME");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string uid = std::to_string(UidOf("moat-wall-a"));
  EXPECT_EQ(r.out, uid + "\n" + uid + "\nmoat-wall-a\n" + HomeOf("moat-wall-a") + "\n");
}

TEST_F(WallIsolation, RootInsideMapsToAPrivateUnprivilegedRange) {
  auto r = sandbox_.Sh("moat-wall-a", "cat /proc/self/uid_map");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  unsigned long inside, outside, count;
  ASSERT_TRUE(lines >> inside >> outside >> count) << r.out;
  EXPECT_EQ(inside, 0u);
  EXPECT_GE(outside, 0x40000000ul) << "root inside must not be a low host id";
}

TEST_F(WallIsolation, ConcurrentSessionsGetDisjointHostIdRanges) {
  std::string a = sandbox_.Detach("moat-wall-a");
  std::string b = sandbox_.Detach("moat-wall-b");
  auto list = sandbox_.Cli({"list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto sessions = nlohmann::json::parse(list.out);
  ASSERT_EQ(sessions.size(), 2u);
  uint64_t base_a = sessions[0]["host_id_base"], base_b = sessions[1]["host_id_base"];
  EXPECT_NE(base_a, base_b);
  EXPECT_GE(base_a > base_b ? base_a - base_b : base_b - base_a, 65536u);
  // The maps as the kernel has them, read from inside each session.
  auto map_a = sandbox_.Exec(a, "head -1 /proc/self/uid_map");
  auto map_b = sandbox_.Exec(b, "head -1 /proc/self/uid_map");
  EXPECT_NE(map_a.out, map_b.out);
  sandbox_.Stop(a);
  sandbox_.Stop(b);
}

TEST_F(WallIsolation, ProcShowsOnlyTheSessionsOwnProcesses) {
  auto r = sandbox_.Sh("moat-wall-a",
                       "ls /proc | grep -c '^[0-9]*$'; cat /proc/1/comm; "
                       "test -e /proc/" +
                           std::to_string(getpid()) + " && echo SEEN; true");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream out(r.out);
  int count = 0;
  std::string init;
  out >> count >> init;
  EXPECT_LE(count, 4) << r.out;  // moat-init, sh, ls, grep
  EXPECT_EQ(init, "moat-init");
  EXPECT_EQ(r.out.find("SEEN"), std::string::npos);
}

TEST_F(WallIsolation, CapabilitiesAreEmptyAndNoNewPrivsIsSet) {
  auto r = sandbox_.Sh("moat-wall-a",
                       "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' "
                       "/proc/self/status");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n"
            "CapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n");
}

TEST_F(WallIsolation, InitIsNotDumpableSoItsMemoryIsUnreadable) {
  auto r =
      sandbox_.Sh("moat-wall-a", "cat /proc/1/environ >/dev/null 2>&1 && echo READ || echo DENIED");
  EXPECT_EQ(r.out, "DENIED\n");
}

TEST_F(WallIsolation, SeccompDeniesNamespaceCreation) {
  auto r = sandbox_.Sh("moat-wall-a", "unshare --user true 2>&1; echo rc=$?");
  EXPECT_NE(r.out.find("Operation not permitted"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rc=1"), std::string::npos) << r.out;
}

TEST_F(WallIsolation, NetworkHasOnlyAWorkingLoopback) {
  auto r = sandbox_.Sh(
      "moat-wall-a",
      "ls /sys/class/net; cat /sys/class/net/lo/operstate; "
      "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); "
      "s.listen(); c=socket.create_connection(s.getsockname()); print(\"LOOPBACK-OK\")'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 3), "lo\n") << r.out;
  EXPECT_NE(r.out.find("LOOPBACK-OK"), std::string::npos);
  EXPECT_EQ(r.out.find("eth"), std::string::npos);
}

// A caller that leaks an fd (not close-on-exec) must not leak it into the wall: neither
// moat-init nor the applications it starts may hold it.
TEST_F(WallIsolation, NoFdOfTheCallerEntersTheWall) {
  auto r = RunCommand({"/bin/sh", "-c",
                       "exec 9</etc/hostname; exec " MOAT_SANDBOX_BIN " --run-dir " +
                           sandbox_.run_dir() +
                           " run --no-tty --user moat-wall-a -- /bin/sh -c 'ls /proc/self/fd'"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "0\n1\n2\n3\n") << "3 is ls's own directory fd";
}

TEST_F(WallIsolation, HostnameIsTheSessionsOwn) {
  auto r = sandbox_.Sh("moat-wall-a", "hostname", {"--hostname", "desk-7"});
  EXPECT_EQ(r.out, "desk-7\n");
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  EXPECT_NE(std::string(host), "desk-7");
}

TEST_F(WallIsolation, IpcNamespaceIsPrivate) {
  auto r = sandbox_.Sh("moat-wall-a", "ipcs -m | grep -c '^0x' || true");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(Trim(r.out), "0");
}

}  // namespace
}  // namespace moat::test
