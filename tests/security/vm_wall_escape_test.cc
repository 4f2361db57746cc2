// "A QEMU escape lands in a sandbox" (issue 8): the escape probe runs as a second application
// in a VM session's wall, beside QEMU, so with exactly QEMU's privileges (the session's user,
// the wall's namespaces, no capabilities, no_new_privs, the wall's seccomp filter), next to a
// victim session of another user, and every attack must be BLOCKED, as in escape_suite_test.cc
// for a sandbox's wall. What runs inside the guest is another suite's business: this one
// assumes the guest is lost and QEMU is the attacker's.
//
// Real QEMU, a real wall (VmWall through the sandbox's SessionManager), real host objects
// (escape_suite_host.h). Skipped without root or without a guest that boots here.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "escape_suite_driver.h"
#include "escape_suite_host.h"
#include "moat/sandbox/session_manager.h"
#include "test_guest.h"
#include "vm_wall.h"

namespace moat::escape_test {
namespace {

constexpr const char* kProbeInWall = "/opt/moat-test/escape-probe";
constexpr const char* kSuidInWall = "/opt/moat-test/escape-suid";

class VmWallEscape : public EscapeSuiteBase {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;
    auto guest = agent::test::TestGuest::Build("moat-esc-vm-guest");
    guest_dir_ = guest.dir;
    skip_reason_ = guest.skip_reason;
    failure_ = guest.failure;
  }
  static void TearDownTestSuite() {
    if (!guest_dir_.empty()) std::filesystem::remove_all(guest_dir_);
  }

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the escape suite creates users and walls: run as root";
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    ASSERT_TRUE(failure_.empty()) << "building the guest: " << failure_;
    auto image = agent::vm::GuestImage::Load(guest_dir_ + "/guest.env");
    ASSERT_TRUE(image) << image.error().message();
    image_ = *image;
    EscapeSuiteBase::SetUp();
  }

  static inline std::string guest_dir_, skip_reason_, failure_;
  agent::vm::GuestImage image_;
};

TEST_F(VmWallEscape, NoAttackEscapesTheWallAroundQemu) {
  ScratchDir run_dir("/run/moat-esc-XXXXXX");
  ASSERT_FALSE(run_dir.path().empty()) << "mkdtemp under /run: " << strerror(errno);
  const std::string passwd_before = ReadWholeFile("/etc/passwd").value_or("");
  const std::string vm_id = "esc-vm-" + nonce_;

  // The victim: another user's sandbox session in the same run directory.
  VictimSandbox victim(run_dir.path(), nonce_, scene_->shm_key());
  victim.Start(*victim_user_, secret_);
  if (HasFatalFailure()) return;

  // The attacker's VM session: QEMU in its wall, booted.
  auto manager = agent::test::OpenWallManager(run_dir.path());
  ASSERT_TRUE(manager) << manager.error().message();
  agent::vm::VmSpec spec;
  spec.id = vm_id;
  spec.user = attacker_->name;
  spec.image = image_;
  spec.mounts = {{MOAT_ESCAPE_PROBE_BIN, kProbeInWall, true},
                 {MOAT_ESCAPE_SUID_BIN, kSuidInWall, true}};
  auto wall = agent::vm::VmWall::Start(spec, **manager);
  ASSERT_TRUE(wall) << wall.error().message();
  const pid_t qemu = (*wall)->qemu_pid();

  // The probe, a second application of QEMU's wall, on a terminal of ours (for TIOCSTI).
  std::vector<std::string> argv = {
      MOAT_SANDBOX_BIN, "--run-dir", run_dir.path(), "exec", vm_id, "--", kProbeInWall};
  Append(&argv, HostFacts(kSuidInWall));
  Append(&argv, victim.ProbeFacts());
  ASSERT_TRUE((*wall)->Running()) << "QEMU must run beside the probe";
  RunProbeInWall(argv, passwd_before, victim);

  // The probe's kill(-1) reached QEMU: proof that it ran in QEMU's pid namespace as QEMU's
  // user. The end is then the wall's stop alone. A killed QEMU takes a moment to exit (its
  // threads, its guest's memory), so the check waits for it.
  auto exit_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((*wall)->Running() && std::chrono::steady_clock::now() < exit_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_FALSE((*wall)->Running()) << "QEMU survived the probe's kill-all: not its wall?";
  (void)(*wall)->Shutdown(std::chrono::seconds(2));
  wall->reset();
  EXPECT_NE(kill(qemu, 0), 0) << "QEMU " << qemu << " still runs";
  EXPECT_FALSE((*manager)->Find(vm_id)) << "the VM's wall is left";
  victim.Stop();  // its host dir is a mount of its own while it runs
  std::vector<std::string> mounts = run_dir.MountsInside();
  EXPECT_TRUE(mounts.empty()) << "mounts left under the run directory:\n" << Lines(mounts);
}

}  // namespace
}  // namespace moat::escape_test
