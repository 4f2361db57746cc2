// The VM wall on real QEMU (agent/src/vm/vm_wall.h): boot a session's microVM, run programs
// through moat-init's control protocol over virtio-serial, check what the guest can and cannot
// write on the host, and that a shutdown leaves nothing. Needs root (QEMU runs as the test
// user) and qemu-system-x86; without QEMU the tests are skipped.
#include "vm_wall.h"

#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

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
    ::chmod(run_dir_.c_str(), 0755);
  }
  void TearDown() override {
    if (!run_dir_.empty()) std::filesystem::remove_all(run_dir_);
  }

  VmSpec Spec() const {
    VmSpec spec;
    spec.id = UniqueId("vm");
    spec.user = kUser;
    spec.run_dir = run_dir_;
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
};

TEST_F(VmWallTest, BootsRunsAsTheUserWritesTheHomeAndLeavesNothing) {
  std::string home = HomeOf(kUser);
  std::filesystem::remove(home + "/from-vm");
  auto spec = Spec();
  auto wall = VmWall::Start(spec);
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

  // QEMU itself runs as the user, not as root.
  struct stat proc {};
  ASSERT_EQ(::stat(("/proc/" + std::to_string(qemu)).c_str(), &proc), 0);
  EXPECT_EQ(proc.st_uid, UidOf(kUser));

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
  EXPECT_FALSE(Exists(dir));
}

TEST_F(VmWallTest, TheHostRootIsReadOnlyWritesLandInTheOverlay) {
  // A host directory the user may write: the guest's writes there must still stay in the
  // guest's overlay, because the host's / is exported read-only.
  std::string probe_dir = "/var/tmp/moat-vm-probe-" + std::to_string(::getpid());
  std::filesystem::create_directories(probe_dir);
  ASSERT_EQ(::chown(probe_dir.c_str(), UidOf(kUser), ::getpwnam(kUser)->pw_gid), 0);
  std::filesystem::remove("/etc/moat-vm-probe");
  std::string home = HomeOf(kUser);
  auto wall = VmWall::Start(Spec());
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
