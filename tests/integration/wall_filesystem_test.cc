// The session's root: overlay, home, private scratch, masks, /dev, /proc, /sys.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>

#include "test_support.h"

namespace moat::test {
namespace {

// The wall's device nodes as stat(1) shows them: type, device numbers, mode.
constexpr const char* kDevNodesStat =
    "stat -c '%n %F %t:%T %a' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty";
constexpr const char* kDevNodesExpected =
    "/dev/null character special file 1:3 666\n"
    "/dev/zero character special file 1:5 666\n"
    "/dev/full character special file 1:7 666\n"
    "/dev/random character special file 1:8 666\n"
    "/dev/urandom character special file 1:9 666\n"
    "/dev/tty character special file 5:0 666\n";

class WallFilesystem : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    EnsureUser("moat-wall-a");
    EnsureUser("moat-wall-b");
  }
  ScratchRunDir run_dir_;
  Sandbox sandbox_{run_dir_};
};

TEST_F(WallFilesystem, HomeIsWritableAndReachesTheHost) {
  std::string marker = UniqueId("home-marker");
  auto r = sandbox_.Sh("moat-wall-a", "echo kept > ~/" + marker);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string host_path = HomeOf("moat-wall-a") + "/" + marker;
  EXPECT_EQ(ReadFile(host_path), "kept\n");
  unlink(host_path.c_str());
}

TEST_F(WallFilesystem, OtherHomesRootHomeAndHostRunAreHidden) {
  auto r = sandbox_.Sh("moat-wall-a", "ls -A /home; echo --; ls -A /root; echo --; ls -A /run");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "moat-wall-a\n--\n--\nuser\n");
}

TEST_F(WallFilesystem, ShadowIsEmptyAndTheRunDirectoryIsUnreachable) {
  auto r = sandbox_.Sh("moat-wall-a", "wc -c < /etc/shadow; ls -A " + sandbox_.run_dir() +
                                          " 2>&1 | head -1; ls /run/moat 2>&1 | head -1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream out(r.out);
  std::string shadow_size;
  out >> shadow_size;
  EXPECT_EQ(shadow_size, "0");
  EXPECT_EQ(r.out.find("sessions"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("idslots"), std::string::npos) << r.out;
}

TEST_F(WallFilesystem, TmpAndShmArePrivateToEachSession) {
  std::string a = sandbox_.Detach("moat-wall-a");
  std::string b = sandbox_.Detach("moat-wall-b");
  std::string name = UniqueId("tmp-marker");
  ASSERT_EQ(sandbox_.Exec(a, "echo a > /tmp/" + name + " && echo a > /dev/shm/" + name).exit_code,
            0);
  EXPECT_EQ(sandbox_.Exec(a, "cat /tmp/" + name).out, "a\n");
  EXPECT_NE(sandbox_.Exec(b, "cat /tmp/" + name).exit_code, 0);
  EXPECT_NE(sandbox_.Exec(b, "cat /dev/shm/" + name).exit_code, 0);
  EXPECT_FALSE(Exists("/tmp/" + name));
  EXPECT_FALSE(Exists("/dev/shm/" + name));
  sandbox_.Stop(a);
  sandbox_.Stop(b);
}

TEST_F(WallFilesystem, RootIsAnOverlayWhoseWritesNeverReachTheHost) {
  // Root inside is an unprivileged host id, so even host-writable-by-root paths refuse.
  auto r = sandbox_.Sh("moat-wall-a",
                       "grep ' / ' /proc/self/mounts | cut -d' ' -f3; "
                       "touch /etc/moat-overlay-probe 2>&1 | grep -c 'Permission denied'");
  EXPECT_EQ(r.out, "overlay\n1\n") << r.err;
  EXPECT_FALSE(Exists("/etc/moat-overlay-probe"));
}

TEST_F(WallFilesystem, DevHoldsOnlyTheHarmlessDevices) {
  auto r = sandbox_.Sh("moat-wall-a", "ls -A /dev | sort | tr '\\n' ' '");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero ");
  auto pts = sandbox_.Sh("moat-wall-a", "ls /dev/pts | grep -v ptmx | wc -l");
  EXPECT_EQ(Trim(pts.out), "0") << "devpts must be a private instance";
  // The nodes are made with mknod: each must be the right device, usable by the user.
  auto nodes = sandbox_.Sh("moat-wall-a", kDevNodesStat);
  EXPECT_EQ(nodes.out, kDevNodesExpected) << nodes.err;
  auto use = sandbox_.Sh("moat-wall-a",
                         "echo x > /dev/null && head -c 3 /dev/zero | wc -c && "
                         "head -c 3 /dev/urandom | wc -c && "
                         "head -c 1 /dev/zero 2>&1 >/dev/full | grep -c 'No space'");
  EXPECT_EQ(use.out, "3\n3\n1\n") << use.err;
}

// Where mknod is refused (Moat inside a container without CAP_MKNOD, a device cgroup denying
// "m"), the host's nodes are bound instead: the same /dev, the same devices. The CLI runs here
// with CAP_MKNOD dropped from its bounding set, which moat-init inherits.
TEST_F(WallFilesystem, DevFallsBackToBindsWhereMknodIsRefused) {
  std::string script =
      std::string(kDevNodesStat) +
      "; head -c 3 /dev/urandom | wc -c; grep -c ' /dev/null ' /proc/self/mountinfo";
  auto r = RunCommand({MOAT_SANDBOX_BIN, "--run-dir", sandbox_.run_dir(), "run", "--user",
                       "moat-wall-a", "--", "sh", "-c", script},
                      60, {CAP_MKNOD});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, std::string(kDevNodesExpected) + "3\n1\n")
      << "the nodes must be the host's, bound (one mount on /dev/null)";
}

TEST_F(WallFilesystem, SysIsReadOnlyAndFirmwareIsMasked) {
  auto r = sandbox_.Sh("moat-wall-a",
                       "grep ' /sys ' /proc/self/mounts | cut -d' ' -f4 | cut -d, -f1;"
                       "ls -A /sys/firmware | wc -l");
  EXPECT_EQ(r.out, "ro\n0\n");
}

TEST_F(WallFilesystem, ProcKernelInterfacesAreMaskedOrReadOnly) {
  // Kernels differ in which of these exist; check every one this host has.
  std::string script, expected;
  for (const char* path : {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sysrq-trigger",
                           "/proc/sched_debug", "/proc/latency_stats"}) {
    if (!Exists(path)) continue;
    script += std::string("wc -c < ") + path + "; ";
    expected += "0\n";
  }
  script += "grep ' /proc/sys ' /proc/self/mounts | cut -d' ' -f4 | cut -d, -f1";
  expected += "ro\n";
  auto r = sandbox_.Sh("moat-wall-a", script);
  EXPECT_EQ(r.out, expected) << r.err;
}

TEST_F(WallFilesystem, BindMountsHonourReadOnly) {
  char dir_template[] = "/var/tmp/moat-bind-XXXXXX";
  std::string dir = mkdtemp(dir_template);
  chmod(dir.c_str(), 0777);
  auto r = sandbox_.Sh("moat-wall-a",
                       "touch /ro/x 2>&1 | grep -c 'Read-only'; touch /rw/y && echo RW-OK",
                       {"--ro-bind", dir + ":/ro", "--bind", dir + ":/rw"});
  EXPECT_EQ(r.out, "1\nRW-OK\n") << r.err;
  EXPECT_TRUE(Exists(dir + "/y"));
  RunCommand({"rm", "-rf", dir});
}

TEST_F(WallFilesystem, UpperTmpfsSizeIsEnforced) {
  auto r = sandbox_.Sh("moat-wall-a",
                       "dd if=/dev/zero of=/tmp/fill bs=1M count=8 2>&1 | grep -c 'No space'",
                       {"--upper-size", "4M"});
  EXPECT_EQ(r.out, "1\n") << r.err;
}

// A host dir is on the host's /run: a session must be able to fill neither that nor its
// inodes, and whatever it leaves there (deeply nested too) goes with the session.
TEST_F(WallFilesystem, AHostDirIsASizeLimitedTmpfsOfItsOwnAndLeavesNothing) {
  std::string id = sandbox_.Detach("moat-wall-a", {"--host-dir", "scratch"});
  std::string host_dir = sandbox_.run_dir() + "/sessions/" + id + "/scratch";
  EXPECT_NE(ReadFile("/proc/self/mountinfo").find(" " + host_dir + " "), std::string::npos)
      << "no tmpfs of its own at " << host_dir;
  // statvfs, not df: the cgroup v2 guest (tests/vm) has only busybox's.
  auto free_mib = [] {
    struct statvfs fs {};
    return statvfs("/run", &fs) == 0 ? static_cast<long long>(fs.f_bavail * fs.f_frsize >> 20) : -1;
  };
  long long before = free_mib();
  auto filled = sandbox_.Exec(
      id, "dd if=/dev/zero of=/run/moat/scratch/fill bs=1M count=100 2>&1 | grep -c 'No space'");
  EXPECT_EQ(filled.out, "1\n") << filled.err;
  EXPECT_LT(before - free_mib(), 8) << "the session's writes landed on the host's /run";
  auto nested = sandbox_.Exec(
      id,
      "cd /run/moat/scratch && for i in $(seq 80); do mkdir d && cd d || exit 1; done; echo ok");
  EXPECT_EQ(nested.out, "ok\n") << nested.err;
  sandbox_.Stop(id);
  EXPECT_FALSE(Exists(host_dir));
  EXPECT_EQ(ReadFile("/proc/self/mountinfo").find(sandbox_.run_dir()), std::string::npos)
      << "a mount was left under the run directory";
}

}  // namespace
}  // namespace moat::test
