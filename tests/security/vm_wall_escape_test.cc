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

constexpr int kProbeTimeoutSeconds = 600;
constexpr const char* kProbeInWall = "/opt/moat-test/escape-probe";
constexpr const char* kVictimInWall = "/opt/moat-test/escape-victim";
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
  const std::string victim_id = "esc-victim-" + nonce_;
  const std::string vm_id = "esc-vm-" + nonce_;
  const std::string victim_marker = "moat-esc-victim-" + nonce_;
  const std::string victim_socket = "/tmp/" + victim_marker + ".sock";
  const std::string victim_shm_key = std::to_string(scene_->shm_key() ^ 0x00010000);
  const std::string victim_rfb_socket =
      run_dir.path() + "/sessions/" + victim_id + "/display/rfb.sock";

  // The victim: another user's sandbox session in the same run directory.
  std::vector<std::string> victim_argv = {MOAT_SANDBOX_BIN, "--run-dir", run_dir.path(), "run"};
  Append(&victim_argv, {{"--detach", ""},
                        {"--id", victim_id},
                        {"--user", victim_user_->name},
                        {"--env", "MOAT_ESC_SECRET=" + secret_},
                        {"--ro-bind", std::string(MOAT_ESCAPE_VICTIM_BIN) + ":" + kVictimInWall},
                        {"--host-dir", "display"},
                        {"--", kVictimInWall},
                        {"--marker", victim_marker},
                        {"--abstract", victim_marker},
                        {"--unix-socket", victim_socket},
                        {"--shm-key", victim_shm_key},
                        {"--rfb-socket", "/run/moat/display/rfb.sock"},
                        {"--x11-display", "1"}});
  ProcessResult started = RunCommand(victim_argv, 120);
  ASSERT_EQ(started.exit_code, 0) << "starting the victim session: " << started.output;
  struct StopVictim {
    std::string run_dir, id;
    ~StopVictim() {
      RunCommand({MOAT_SANDBOX_BIN, "--run-dir", run_dir, "stop", id, "--grace", "2"}, 60);
    }
  } stop_victim{run_dir.path(), victim_id};
  pid_t victim_pid = FindProcess(kVictimInWall, victim_marker, 30);
  ASSERT_GT(victim_pid, 0) << "the victim application never appeared on the host";
  ASSERT_TRUE(WaitForPath("/proc/" + std::to_string(victim_pid) + "/root/tmp/" + victim_marker, 30))
      << "the victim never became ready";

  // The attacker's VM session: QEMU in its wall, booted.
  sandbox::ManagerOptions options;
  options.run_dir = run_dir.path();
  options.init_path = MOAT_INIT_BIN;
  auto manager = sandbox::SessionManager::Open(options);
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
  Append(&argv, {{"--host-run-dir", run_dir.path()},
                 {"--victim-host-pid", std::to_string(victim_pid)},
                 {"--victim-id", victim_id},
                 {"--victim-abstract", victim_marker},
                 {"--victim-unix-socket", victim_socket},
                 {"--victim-tmp-marker", victim_marker},
                 {"--victim-shm-key", victim_shm_key},
                 {"--victim-rfb-socket", victim_rfb_socket},
                 {"--victim-x11-display", "1"},
                 {"--allow-kill-all", ""}});
  for (const auto& path : FindRunPaths(run_dir.path() + "/sessions/" + victim_id)) {
    Append(&argv, {{"--victim-run-path", path}});
  }
  ASSERT_TRUE((*wall)->Running()) << "QEMU must run beside the probe";
  SpawnOptions probe_options;
  probe_options.argv = argv;
  probe_options.tty_path = scene_->tty_slave();
  ProcessResult probe = RunCommand(probe_options, kProbeTimeoutSeconds);
  ProbeReport report = ParseProbeOutput(probe.output);

  JudgeHost(passwd_before, &report);
  bool victim_alive =
      kill(victim_pid, 0) == 0 && ProcCmdline(victim_pid).find(victim_marker) != std::string::npos;
  HostVerdict(
      "victim-survives", victim_alive,
      "victim pid " + std::to_string(victim_pid) + (victim_alive ? " still runs" : " is gone"),
      &report);
  bool injected = scene_->DrainTty().find('#') != std::string::npos;
  HostVerdict("host-tty-untouched", !injected,
              injected ? "an injected '#' reached the terminal outside the wall"
                       : "nothing was injected into the terminal outside the wall",
              &report);

  EXPECT_FALSE(probe.timed_out) << "the probe did not finish within " << kProbeTimeoutSeconds
                                << " s";
  ExpectNoEscape(report, kMinBlockedAttacks);
  EXPECT_EQ(probe.exit_code, 0) << "moat-sandbox exec exited " << probe.exit_code;

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
  std::vector<std::string> mounts = run_dir.MountsInside();
  EXPECT_TRUE(mounts.empty()) << "mounts left under the run directory:\n" << Lines(mounts);
}

}  // namespace
}  // namespace moat::escape_test
