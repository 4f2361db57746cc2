// The escape suite inside a VM session (issue 8): moat-escape-probe runs in the attacker's
// guest as the session's user, with the VM boundary's attacks (--vm), beside a victim VM
// session of another user that has a desktop, and next to the host objects of the sandbox
// suite. It fails on any ESCAPED or SKIPPED line or too few BLOCKED ones, like the sandbox
// suite (escape_suite_test.cc).
//
// A guest's applications write their output inside the guest, so the probe and the victim are
// copied into the users' homes, which the guests share over 9p, and report there: the probe
// its verdicts (--output), the victim its readiness (--ready-file). Needs root, QEMU and a
// guest image (tests/vm/test_guest.h); skipped with the reason otherwise.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "escape_suite_driver.h"
#include "test_guest.h"
#include "vm_backend.h"
#include "vm_escape_scene.h"

namespace moat::escape_test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// vm_boundary_attacks.cc's rows that give a verdict (vm-write-root-export is a note).
constexpr int kVmBoundaryVerdicts = 11;
constexpr int kProbeTimeoutSeconds = 600;
constexpr int kVictimReadySeconds = 120;

bool WaitFor(const std::function<bool()>& predicate, int timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(milliseconds(500));
  }
  return predicate();
}

// Ends a VM session when the test ends, even when an assertion failed half-way.
struct VmGuard {
  agent::VmBackend* backend = nullptr;
  std::string id;
  void End() {
    if (backend == nullptr || id.empty()) return;
    auto ended = backend->End(id, seconds(2));
    EXPECT_TRUE(ended) << "ending " << id << ": " << ended.error().message();
    id.clear();
  }
  ~VmGuard() { End(); }
};

bool Runs(const agent::VmBackend& backend, const std::string& id, pid_t pid,
          const std::string& needle) {
  auto processes = backend.Processes(id);
  if (!processes) return false;
  for (const auto& p : *processes) {
    if (p.pid == static_cast<uint64_t>(pid) && p.command.find(needle) != std::string::npos) {
      return true;
    }
  }
  return false;
}

class VmEscapeSuite : public EscapeSuiteBase {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;  // SetUp skips
    guest_ = agent::test::TestGuest::Build("moat-esc-vm-guest");
  }
  static void TearDownTestSuite() { guest_.Remove(); }

  void SetUp() override {
    EscapeSuiteBase::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    cgroup_parent_ = "moat-esc-vm-" + nonce_;
  }

  // The SessionManager that makes QEMU's walls, on the test's run directory.
  std::unique_ptr<sandbox::SessionManager> Manager(const std::string& run_dir) {
    auto manager = agent::test::OpenWallManager(run_dir, cgroup_parent_);
    EXPECT_TRUE(manager) << manager.error().message();
    return manager ? std::move(*manager) : nullptr;
  }

  void TearDown() override {
    agent::test::RemoveCgroupParent(cgroup_parent_);
    EscapeSuiteBase::TearDown();
  }

  static inline agent::test::TestGuest guest_;
  std::string cgroup_parent_;
};

TEST_F(VmEscapeSuite, NoAttackEscapesTheVm) {
  if (!guest_.skip_reason.empty()) GTEST_SKIP() << guest_.skip_reason;
  ASSERT_TRUE(guest_.failure.empty()) << "building the guest: " << guest_.failure;
  ScratchDir run_dir("/run/moat-esc-vm-XXXXXX");
  ASSERT_FALSE(run_dir.path().empty()) << "mkdtemp under /run: " << strerror(errno);
  const std::string passwd_before = ReadWholeFile("/etc/passwd").value_or("");
  VmEscapeScene vm_scene(nonce_, *attacker_, *victim_user_);
  std::string failed = vm_scene.Prepare();
  ASSERT_EQ(failed, "") << "preparing the VM scene: " << failed;

  agent::VmBackendOptions options;
  options.run_dir = run_dir.path();
  options.guest_dir = guest_.dir;
  auto manager = Manager(run_dir.path());
  ASSERT_TRUE(manager);
  auto backend = agent::VmBackend::Open(options, *manager);
  ASSERT_TRUE(backend) << backend.error().message();

  // The victim: another user's VM session with a desktop, so that its RFB socket exists on
  // the host and its Xvnc listens on display 1 in its guest.
  const std::string victim_id = "esc-vm-victim-" + nonce_;
  const std::string victim_marker = "moat-esc-victim-" + nonce_;
  const std::string victim_socket = "/tmp/" + victim_marker + ".sock";
  const std::string victim_shm_key = std::to_string(scene_->shm_key() ^ 0x00010000);
  wire::SessionCreate victim_spec;
  victim_spec.session_id = victim_id;
  victim_spec.user = victim_user_->name;
  victim_spec.backend = wire::Backend::kVm;
  victim_spec.desktop = true;
  auto victim_vm = (*backend)->Create(victim_spec);
  ASSERT_TRUE(victim_vm) << "creating the victim VM: " << victim_vm.error().message();
  VmGuard victim_guard{backend->get(), victim_id};
  ASSERT_FALSE(victim_vm->rfb_socket.empty()) << "the victim VM has no desktop socket";
  agent::AppLaunch victim_app;
  victim_app.argv = {
      vm_scene.victim_program(), "--marker",    victim_marker, "--abstract",   victim_marker,
      "--unix-socket",           victim_socket, "--shm-key",   victim_shm_key, "--ready-file",
      vm_scene.victim_ready()};
  victim_app.env = {"MOAT_ESC_SECRET=" + secret_};
  auto victim = (*backend)->Launch(victim_id, victim_app);
  ASSERT_TRUE(victim) << "launching the victim: " << victim.error().message();
  ASSERT_TRUE(WaitFor([&] { return access(vm_scene.victim_ready().c_str(), F_OK) == 0; },
                      kVictimReadySeconds))
      << "the victim never became ready in its guest";

  // The attacker's VM, and the probe in it.
  const std::string attacker_id = "esc-vm-attacker-" + nonce_;
  wire::SessionCreate attacker_spec;
  attacker_spec.session_id = attacker_id;
  attacker_spec.user = attacker_->name;
  attacker_spec.backend = wire::Backend::kVm;
  attacker_spec.desktop = false;
  auto attacker_vm = (*backend)->Create(attacker_spec);
  ASSERT_TRUE(attacker_vm) << "creating the attacker VM: " << attacker_vm.error().message();
  VmGuard attacker_guard{backend->get(), attacker_id};

  agent::AppLaunch probe_app;
  probe_app.argv = {vm_scene.probe()};
  Append(&probe_app.argv, HostFacts(vm_scene.suid_helper()));
  Append(&probe_app.argv, {{"--vm", ""},
                           {"--output", vm_scene.verdicts()},
                           {"--allow-kill-all", ""},
                           {"--host-run-dir", run_dir.path()},
                           {"--victim-host-pid", std::to_string(victim->pid)},
                           {"--victim-id", victim_id},
                           {"--victim-abstract", victim_marker},
                           {"--victim-unix-socket", victim_socket},
                           {"--victim-tmp-marker", victim_marker},
                           {"--victim-shm-key", victim_shm_key},
                           {"--victim-rfb-socket", victim_vm->rfb_socket},
                           {"--victim-x11-display", "1"},
                           {"--host-user-dir", vm_scene.user_dir()},
                           {"--host-export-socket", vm_scene.export_socket()}});
  // The sockets and state of both VMs on the host: each QEMU's wall (its moat-init's
  // control socket and state) and the wall's "vm" host dir (QEMU's control and QMP sockets).
  for (const char* sub : {"", "/vm"}) {
    for (const auto& path : FindRunPaths(run_dir.path() + "/sessions/" + victim_id + sub)) {
      Append(&probe_app.argv, {{"--victim-run-path", path}});
    }
    for (const auto& path : FindRunPaths(run_dir.path() + "/sessions/" + attacker_id + sub)) {
      Append(&probe_app.argv, {{"--own-vm-path", path}});
    }
  }
  auto probe = (*backend)->Launch(attacker_id, probe_app);
  ASSERT_TRUE(probe) << "launching the probe: " << probe.error().message();

  // The summary line is the probe's last word; a probe that is gone without it ended early.
  std::string output;
  bool finished = WaitFor(
      [&] {
        output = ReadWholeFile(vm_scene.verdicts()).value_or("");
        if (output.find("\nescape-suite: ") != std::string::npos) return true;
        if (Runs(**backend, attacker_id, probe->pid, "moat-escape-probe")) return false;
        output = ReadWholeFile(vm_scene.verdicts()).value_or("");
        return true;
      },
      kProbeTimeoutSeconds);
  EXPECT_TRUE(finished) << "the probe did not finish within " << kProbeTimeoutSeconds << " s";
  ProbeReport report = ParseProbeOutput(output);

  // What only the host can see. No terminal of the host reaches a guest, so there is no
  // TIOCSTI verdict to add here: the probe's own tiocsti attack runs on the guest's.
  JudgeHost(passwd_before, &report);
  bool victim_alive = Runs(**backend, victim_id, victim->pid, victim_marker);
  HostVerdict("victim-survives", victim_alive,
              "the victim's pid " + std::to_string(victim->pid) + " in its guest " +
                  (victim_alive ? "still runs" : "is gone"),
              &report);
  std::string detail;
  bool untouched = vm_scene.ExportUntouched(&detail);
  HostVerdict("host-root-export-read-only", untouched, detail, &report);

  ExpectNoEscape(report, kMinBlockedAttacks + kVmBoundaryVerdicts, /*vm=*/true);

  attacker_guard.End();
  victim_guard.End();
  auto left = (*backend)->List();
  ASSERT_TRUE(left) << left.error().message();
  EXPECT_TRUE(left->empty()) << left->size() << " VM sessions left after both ended";
}

// Without a VM around it, the boundary's attacks must see escapes where the host has them
// (a connectable socket at the given paths, a network interface): a silent attack would pass.
TEST_F(VmEscapeSuite, BoundaryAttacksSeeEscapesOnTheBareHost) {
  VmEscapeScene vm_scene(nonce_, *attacker_, *victim_user_);
  std::string failed = vm_scene.Prepare();
  ASSERT_EQ(failed, "") << "preparing the VM scene: " << failed;
  const std::vector<std::string> expected = {"vm-host-socket-through-export",
                                             "vm-own-channel-sockets", "vm-no-network"};
  SpawnOptions options;
  // No --allow-kill-all: with --vm on the host the probe must never send kill(-1).
  options.argv = {vm_scene.probe(), "--vm"};
  Append(&options.argv, {{"--host-export-socket", vm_scene.export_socket()},
                         {"--own-vm-path", vm_scene.export_socket()}});
  for (const auto& name : expected) Append(&options.argv, {{"--only", name}});
  options.as_user = attacker_;
  ProcessResult probe = RunCommand(options, 120);
  ProbeReport report = ParseProbeOutput(probe.output);
  EXPECT_EQ(probe.exit_code, 1) << "the probe must exit 1 when anything escaped";
  for (const auto& name : expected) {
    EXPECT_TRUE(HasVerdict(report.escaped, "ESCAPED", name))
        << "on the bare host the probe must report " << name << " as ESCAPED";
  }
}

}  // namespace
}  // namespace moat::escape_test
