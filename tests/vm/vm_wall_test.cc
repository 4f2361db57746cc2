// The VM wall on real QEMU (agent/src/vm/vm_wall.h): boot a session's microVM with QEMU in a
// real namespace wall, run programs through moat-init's control protocol over virtio-serial,
// check the jail around QEMU, what the guest can and cannot read or write on the host, and that
// a shutdown leaves nothing. Needs root and qemu-system-x86; without QEMU the tests are skipped.
#include "vm_wall.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "moat/sandbox/control_client.h"
#include "moat/sandbox/session_manager.h"
#include "test_guest.h"
#include "test_support.h"

namespace moat::agent::vm {
namespace {

using moat::test::EnsureUser;
using moat::test::Exists;
using moat::test::HomeOf;
using moat::test::ReadFile;
using moat::test::RunCommand;
using moat::test::Trim;
using moat::test::UidOf;
using moat::test::UniqueId;
using std::chrono::seconds;

constexpr const char* kUser = "moat-vm-test";
// Another user, whose home the guest must not see.
constexpr const char* kOtherUser = "moat-vm-other";

// /proc/PID/status as key → value.
std::map<std::string, std::string> ProcStatus(pid_t pid) {
  std::map<std::string, std::string> out;
  std::istringstream lines(ReadFile("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(lines, line);) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value = line.find_first_not_of(" \t", colon + 1);
    out[line.substr(0, colon)] = value == std::string::npos ? "" : line.substr(value);
  }
  return out;
}

std::string Namespace(pid_t pid, const std::string& kind) {
  std::error_code error;
  auto target =
      std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/" + kind, error);
  return error ? "" : target.string();
}

class VmWallTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    test::TestGuest guest = test::TestGuest::Build("moat-vm-guest");
    guest_dir_ = guest.dir;
    skip_reason_ = guest.skip_reason;
    if (!skip_reason_.empty()) return;
    ASSERT_TRUE(guest.failure.empty()) << guest.failure;
    auto image = GuestImage::Load(guest_dir_ + "/guest.env");
    ASSERT_TRUE(image) << image.error().message();
    image_ = *image;
    EnsureUser(kUser);
  }
  static void TearDownTestSuite() {
    if (!guest_dir_.empty()) std::filesystem::remove_all(guest_dir_);
  }

  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    ASSERT_FALSE(image_.kernel.empty());
    run_dir_ = "/run/moat-vm-test-" + std::to_string(::getpid());
    std::filesystem::create_directories(run_dir_);
    ::chmod(run_dir_.c_str(), 0700);
    auto manager = test::OpenWallManager(run_dir_);
    ASSERT_TRUE(manager) << manager.error().message();
    manager_ = std::move(*manager);
  }
  void TearDown() override {
    if (!run_dir_.empty()) std::filesystem::remove_all(run_dir_);
  }

  VmSpec Spec() const {
    VmSpec spec;
    spec.id = UniqueId("vm");
    spec.user = kUser;
    spec.vcpus = 1;
    spec.memory_mib = 512;
    spec.image = image_;
    return spec;
  }

  // Runs `script` with /bin/sh in the guest as the user; its exit status.
  static VmExit Sh(VmWall& wall, const std::string& script) {
    auto launched = wall.control().Launch({"/bin/sh", "-c", script}, {}, "", seconds(30));
    EXPECT_TRUE(launched) << launched.error().message();
    if (!launched) return {-1, 0, false};
    auto exit = wall.control().WaitExit(launched->pid, seconds(120));
    EXPECT_TRUE(exit) << exit.error().message();
    return exit ? *exit : VmExit{-1, 0, false};
  }

  static inline std::string skip_reason_;
  static inline std::string guest_dir_;
  static inline GuestImage image_;
  std::string run_dir_;
  std::unique_ptr<sandbox::SessionManager> manager_;
};

TEST_F(VmWallTest, BootsRunsAsTheUserWritesTheHomeAndLeavesNothing) {
  std::string home = HomeOf(kUser);
  std::filesystem::remove(home + "/from-vm");
  auto spec = Spec();
  auto wall = VmWall::Start(spec, *manager_);
  ASSERT_TRUE(wall) << wall.error().message();
  std::printf("[ VM ] boot to moat-init ready: %lld ms (accel %s, kernel %s)\n",
              static_cast<long long>((*wall)->boot_time().count()), image_.accel.c_str(),
              image_.kernel_package.c_str());
  pid_t qemu = (*wall)->qemu_pid();
  std::string dir = (*wall)->dir();
  std::istringstream status_file(ReadFile("/proc/" + std::to_string(qemu) + "/status"));
  for (std::string line; std::getline(status_file, line);) {
    if (line.rfind("VmRSS:", 0) == 0) std::printf("[ VM ] QEMU once ready: %s\n", line.c_str());
  }
  EXPECT_TRUE(Exists((*wall)->control_socket()));
  EXPECT_TRUE(Exists((*wall)->qmp_socket()));

  // QEMU itself runs as the user, not as root, in a wall listed by the session manager.
  struct stat proc {};
  ASSERT_EQ(::stat(("/proc/" + std::to_string(qemu)).c_str(), &proc), 0);
  EXPECT_EQ(proc.st_uid, UidOf(kUser));
  auto listed = manager_->Find(spec.id);
  ASSERT_TRUE(listed) << listed.error().message();
  EXPECT_TRUE(listed->running);
  EXPECT_TRUE(VmWall::IsVmWall(*manager_, spec.id));
  EXPECT_EQ(dir, manager_->HostDirPath(spec.id, kVmHostDir));

  auto status = Sh(**wall, "id -u > $HOME/from-vm-id; echo hello > $HOME/from-vm");
  EXPECT_EQ(status.code, 0);
  EXPECT_EQ(status.signal, 0);
  EXPECT_EQ(ReadFile(home + "/from-vm"), "hello\n");
  EXPECT_EQ(Trim(ReadFile(home + "/from-vm-id")), std::to_string(UidOf(kUser)));
  struct stat file {};
  ASSERT_EQ(::stat((home + "/from-vm").c_str(), &file), 0);
  EXPECT_EQ(file.st_uid, UidOf(kUser));
  EXPECT_EQ(file.st_gid, ::getpwnam(kUser)->pw_gid);

  // A failing command reports its status.
  EXPECT_EQ(Sh(**wall, "exit 3").code, 3);

  // The guest's kernel is its own, and so is its /proc: the host's processes are not there.
  EXPECT_EQ(Sh(**wall, "test ! -e /proc/" + std::to_string(qemu) + "/cmdline").code, 0);

  std::filesystem::remove(home + "/from-vm");
  std::filesystem::remove(home + "/from-vm-id");
  auto ended = (*wall)->Shutdown(std::chrono::seconds(5));
  EXPECT_TRUE(ended) << ended.error().message();
  EXPECT_NE(::kill(qemu, 0), 0) << "QEMU " << qemu << " still runs";
  EXPECT_FALSE(Exists(dir));
  wall->reset();
  // Nothing of the wall: no directory, no state, no cgroup, no id lease.
  EXPECT_FALSE(Exists(dir));
  EXPECT_FALSE(Exists(run_dir_ + "/sessions/" + spec.id));
  EXPECT_FALSE(manager_->Find(spec.id));
  EXPECT_FALSE(manager_->cgroups().Exists(spec.id));
  auto walls = manager_->List();
  ASSERT_TRUE(walls);
  EXPECT_TRUE(walls->empty());
}

// QEMU is the application of a Moat wall: its own namespaces, no capabilities, no_new_privs,
// two seccomp filters (the wall's and QEMU's -sandbox), the user's uid; and what it exports as
// the guest's root is the wall's /, without other homes, the host's /run or /etc/shadow.
TEST_F(VmWallTest, QemuRunsJailedInAMoatWall) {
  EnsureUser(kOtherUser);
  const std::string other_home = HomeOf(kOtherUser);
  const std::string secret = other_home + "/moat-vm-secret";
  // Readable by anyone on the host: only the wall's mask may keep it from the guest.
  ASSERT_EQ(::chmod(other_home.c_str(), 0755), 0);
  { std::ofstream(secret) << "secret\n"; }
  ASSERT_EQ(::chmod(secret.c_str(), 0644), 0);
  const std::string run_marker = "/run/moat-vm-marker-" + std::to_string(::getpid());
  { std::ofstream(run_marker) << "host\n"; }
  std::string home = HomeOf(kUser);
  auto spec = Spec();
  const std::string spec_id = spec.id;
  auto wall = VmWall::Start(spec, *manager_);
  ASSERT_TRUE(wall) << wall.error().message();
  const pid_t qemu = (*wall)->qemu_pid();

  for (const char* kind : {"user", "pid", "mnt", "net", "ipc", "uts", "cgroup"}) {
    std::string ours = Namespace(::getpid(), kind), its = Namespace(qemu, kind);
    EXPECT_FALSE(its.empty()) << kind;
    EXPECT_NE(its, ours) << "QEMU shares the agent's " << kind << " namespace";
  }
  auto status = ProcStatus(qemu);
  for (const char* caps : {"CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"}) {
    EXPECT_EQ(status[caps], "0000000000000000") << caps;
  }
  EXPECT_EQ(status["NoNewPrivs"], "1");
  EXPECT_EQ(status["Seccomp"], "2");
  // No transparent huge pages on the guest's RAM (the launch's PR_SET_THP_DISABLE).
  EXPECT_EQ(status["THP_enabled"], "0");
  EXPECT_GE(std::atoi(status["Seccomp_filters"].c_str()), 2) << "the wall's and QEMU's own";
  EXPECT_EQ(status["Uid"].substr(0, status["Uid"].find('\t')), std::to_string(UidOf(kUser)));
  std::printf("[ VM ] QEMU in its wall: %s, seccomp filters %s\n", status["VmRSS"].c_str(),
              status["Seccomp_filters"].c_str());
  // What the wall adds: its moat-init (PSS: shared pages split with every other wall).
  auto init = manager_->Find(spec_id);
  ASSERT_TRUE(init) << init.error().message();
  std::string rollup = ReadFile("/proc/" + std::to_string(init->pid) + "/smaps_rollup");
  auto pss = rollup.find("Pss:");
  std::printf("[ VM ] the wall's moat-init: RSS %s, %s\n", ProcStatus(init->pid)["VmRSS"].c_str(),
              pss == std::string::npos
                  ? "?"
                  : Trim(rollup.substr(pss, rollup.find('\n', pss) - pss)).c_str());

  // QEMU's / is what it exports to the guest (the 9p moat-root).
  const std::string root = "/proc/" + std::to_string(qemu) + "/root";
  EXPECT_FALSE(Exists(root + secret)) << "another user's home is in QEMU's root";
  EXPECT_FALSE(Exists(root + run_marker)) << "the host's /run is in QEMU's root";
  EXPECT_FALSE(Exists(root + run_dir_)) << "the agent's run directory is in QEMU's root";
  struct stat shadow {};
  ASSERT_EQ(::stat((root + "/etc/shadow").c_str(), &shadow), 0);
  EXPECT_FALSE(S_ISREG(shadow.st_mode)) << "/etc/shadow is not masked in QEMU's root";

  // And from the guest, as the user: the results go to the shared home.
  auto done = Sh(**wall, "r=''; cat " + secret +
                             " >/dev/null 2>&1 && r=\"$r other-home\"; "
                             "ls /home | grep -qx " +
                             std::string(kOtherUser) +
                             " && r=\"$r other-listed\"; "
                             "test -f /etc/shadow && r=\"$r shadow\"; "
                             "test -e " +
                             run_marker +
                             " && r=\"$r host-run\"; "
                             "echo \"${r:-jailed}\" > $HOME/jail-check");
  EXPECT_EQ(done.code, 0);
  EXPECT_EQ(Trim(ReadFile(home + "/jail-check")), "jailed");

  std::filesystem::remove(home + "/jail-check");
  std::filesystem::remove(secret);
  std::filesystem::remove(run_marker);
  EXPECT_TRUE((*wall)->Shutdown(std::chrono::seconds(5)));
}

// Under KVM, QEMU's wall gets /dev/kvm and its group (VmWall asks for it when guest.env says
// kvm). No guest boots with KVM here, so this checks the wall alone: a program of a wall that
// asks for /dev/kvm opens it read-write as the user, who is not in the device's group on the
// host; a wall that does not ask has no /dev/kvm.
TEST_F(VmWallTest, KvmIsReachableInAWallThatAsksForIt) {
  struct stat kvm {};
  if (::stat("/dev/kvm", &kvm) != 0) GTEST_SKIP() << "no /dev/kvm on this host";
  std::string home = HomeOf(kUser);
  auto open_kvm = [&](bool with_device) {
    sandbox::SessionSpec spec;
    spec.id = UniqueId("kvm");
    spec.user = kUser;
    if (with_device) spec.devices = {"/dev/kvm"};
    auto start = std::chrono::steady_clock::now();
    auto info = manager_->Create(spec);
    EXPECT_TRUE(info) << info.error().message();
    std::printf("[ VM ] a wall like QEMU's, created in %lld ms\n",
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - start)
                                           .count()));
    if (!info) return -1;
    auto client = sandbox::ControlClient::Connect(info->control_socket);
    EXPECT_TRUE(client) << client.error().message();
    int code = -1;
    if (client) {
      sandbox::LaunchRequest request;
      request.argv = {"/bin/sh", "-c", "exec 3<>/dev/kvm && id -G > $HOME/kvm-check"};
      UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
      auto launched = client->Launch(request, null.get(), null.get(), null.get());
      EXPECT_TRUE(launched) << launched.error().message();
      if (launched) {
        auto exit = client->WaitExit();
        EXPECT_TRUE(exit) << exit.error().message();
        if (exit) code = exit->ShellCode();
      }
    }
    EXPECT_TRUE(manager_->Stop(spec.id, std::chrono::seconds(1)));
    return code;
  };
  EXPECT_NE(open_kvm(false), 0) << "a wall that did not ask for it has /dev/kvm";
  std::filesystem::remove(home + "/kvm-check");
  EXPECT_EQ(open_kvm(true), 0) << "/dev/kvm cannot be opened in a wall that asked for it";
  std::string groups = ReadFile(home + "/kvm-check");
  if (kvm.st_gid != 0 && (kvm.st_mode & 0006) != 0006) {
    EXPECT_NE((" " + Trim(groups) + " ").find(" " + std::to_string(kvm.st_gid) + " "),
              std::string::npos)
        << "the device's group is not among the user's groups in the wall: " << groups;
  }
  std::filesystem::remove(home + "/kvm-check");
}

TEST_F(VmWallTest, TheHostRootIsReadOnlyWritesLandInTheOverlay) {
  // A host directory the user may write: the guest's writes there must still stay in the
  // guest's overlay, because the wall's / is exported read-only. (Not under /tmp or /var/tmp:
  // the wall has its own.)
  std::string probe_dir = "/var/cache/moat-vm-probe-" + std::to_string(::getpid());
  std::filesystem::create_directories(probe_dir);
  ASSERT_EQ(::chown(probe_dir.c_str(), UidOf(kUser), ::getpwnam(kUser)->pw_gid), 0);
  std::filesystem::remove("/etc/moat-vm-probe");
  std::string home = HomeOf(kUser);
  auto wall = VmWall::Start(Spec(), *manager_);
  ASSERT_TRUE(wall) << wall.error().message();

  auto status = Sh(**wall, "echo guest > " + probe_dir +
                               "/written && "
                               "test \"$(cat " +
                               probe_dir +
                               "/written)\" = guest && "
                               "grep -q ' / overlay ' /proc/mounts && "
                               "! (echo guest > /etc/moat-vm-probe) 2>/dev/null; "
                               "echo $? > $HOME/overlay-check");
  EXPECT_EQ(status.code, 0);
  EXPECT_EQ(Trim(ReadFile(home + "/overlay-check")), "0");
  EXPECT_FALSE(Exists(probe_dir + "/written")) << "a guest write reached the host's /";
  EXPECT_FALSE(Exists("/etc/moat-vm-probe"));

  // QMP answers: the guest runs.
  auto state = (*wall)->Qmp("query-status");
  ASSERT_TRUE(state) << state.error().message();
  EXPECT_EQ(state->value("status", std::string()), "running");

  std::filesystem::remove(home + "/overlay-check");
  std::filesystem::remove_all(probe_dir);
  EXPECT_TRUE((*wall)->Shutdown(std::chrono::seconds(5)));
}

}  // namespace
}  // namespace moat::agent::vm
