// The escape suite: runs moat-escape-probe inside a real session wall, next to a victim
// session of another user, and fails if any attack escapes. Also runs the probe on the bare
// host once, to prove that it does see escapes where there is no wall.
//
// Every verdict is printed, so a CI log names each attack with BLOCKED or ESCAPED. The
// probe's own verdicts are joined by host-side ones that only the driver can make: the
// sentinel and the victim still run, /etc/passwd is unchanged, nothing the probe planted
// reached the host, and nothing reached the terminal outside the wall.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "escape_suite_driver.h"

namespace moat::escape_test {
namespace {

constexpr const char* kProbeInWall = "/opt/moat-test/escape-probe";
constexpr const char* kSuidInWall = "/opt/moat-test/escape-suid";

// Stops a session when the test ends, even when an assertion failed half-way.
struct SessionGuard {
  std::string run_dir, id;
  void Stop() {
    if (id.empty()) return;
    ProcessResult r =
        RunCommand({MOAT_SANDBOX_BIN, "--run-dir", run_dir, "stop", id, "--grace", "2"}, 60);
    EXPECT_EQ(r.exit_code, 0) << "moat-sandbox stop " << id << ": " << r.output;
    id.clear();
  }
  ~SessionGuard() { Stop(); }
};

class EscapeSuite : public EscapeSuiteBase {
 protected:
  // The attacker: the probe in its own wall, told the host's and the victim's facts.
  std::vector<std::string> AttackerArgv(const std::string& run_dir, const std::string& id,
                                        const VictimSandbox& victim) const {
    std::vector<std::string> argv = {MOAT_SANDBOX_BIN, "--run-dir", run_dir, "run"};
    Append(&argv, {{"--id", id},
                   {"--user", attacker_->name},
                   {"--ro-bind", std::string(MOAT_ESCAPE_PROBE_BIN) + ":" + kProbeInWall},
                   {"--ro-bind", std::string(MOAT_ESCAPE_SUID_BIN) + ":" + kSuidInWall},
                   {"--", kProbeInWall}});
    Append(&argv, HostFacts(kSuidInWall));
    Append(&argv, victim.ProbeFacts());
    return argv;
  }
};

TEST_F(EscapeSuite, NoAttackEscapesTheWall) {
  ScratchDir run_dir("/run/moat-esc-XXXXXX");
  ASSERT_FALSE(run_dir.path().empty()) << "mkdtemp under /run: " << strerror(errno);
  const std::string passwd_before = ReadWholeFile("/etc/passwd").value_or("");
  const std::string attacker_id = "esc-attacker-" + nonce_;

  // The victim: another user's session, running for the whole attack.
  VictimSandbox victim(run_dir.path(), nonce_, scene_->shm_key());
  victim.Start(*victim_user_, secret_);
  if (HasFatalFailure()) return;

  // On a terminal of ours (for TIOCSTI).
  bool timed_out =
      RunProbeInWall(AttackerArgv(run_dir.path(), attacker_id, victim), passwd_before, victim);

  if (timed_out) SessionGuard{run_dir.path(), attacker_id}.Stop();
  victim.Stop();
  std::vector<std::string> mounts = run_dir.MountsInside();
  EXPECT_TRUE(mounts.empty()) << "mounts left under the run directory after stop (kept):\n"
                              << Lines(mounts);
}

// Two sessions of one user: no uid check stands between them, only the wall. Every attack on
// another session must fail here too (a shared pid, ipc or net namespace, /tmp or run
// directory would let it through, where with another user's session the kernel's permission
// checks alone could still refuse it).
TEST_F(EscapeSuite, NoAttackReachesAnotherSessionOfTheSameUser) {
  ScratchDir run_dir("/run/moat-esc-XXXXXX");
  ASSERT_FALSE(run_dir.path().empty()) << "mkdtemp under /run: " << strerror(errno);
  const std::string passwd_before = ReadWholeFile("/etc/passwd").value_or("");
  const std::string attacker_id = "esc-same-" + nonce_;
  VictimSandbox victim(run_dir.path(), nonce_, scene_->shm_key());
  victim.Start(*attacker_, secret_);
  if (HasFatalFailure()) return;

  std::vector<std::string> argv = AttackerArgv(run_dir.path(), attacker_id, victim);
  std::vector<std::string> only = {
      "victim-process-scan",    "victim-kill",       "victim-ptrace",         "victim-environ",
      "victim-pidfd-signal",    "victim-proc-root",  "victim-tmp-marker",     "victim-shm-marker",
      "victim-abstract-socket", "victim-tmp-socket", "victim-control-socket", "victim-rfb-socket",
      "victim-x11-socket",      "victim-sysv-shm",   "victim-cgroup-visible", "kill-all"};
  for (const auto& name : only) Append(&argv, {{"--only", name}});
  bool timed_out = RunProbeInWall(argv, passwd_before, victim, only);
  if (timed_out) SessionGuard{run_dir.path(), attacker_id}.Stop();
  victim.Stop();
}

// Without a wall the same probe must see escapes; otherwise a silent probe would pass.
TEST_F(EscapeSuite, ProbeSeesEscapesOnTheBareHost) {
  // Copies the attacker can reach whatever the permissions on the build tree.
  ScratchDir bin("/tmp/moat-esc-bare-XXXXXX");
  ASSERT_FALSE(bin.path().empty()) << "mkdtemp under /tmp: " << strerror(errno);
  const std::string probe_bin = bin.path() + "/moat-escape-probe";
  const std::string suid_bin = bin.path() + "/moat-escape-suid";
  ASSERT_TRUE(InstallFile(MOAT_ESCAPE_PROBE_BIN, probe_bin, 0755)) << strerror(errno);
  ASSERT_TRUE(InstallFile(MOAT_ESCAPE_SUID_BIN, suid_bin, 04755)) << strerror(errno);
  SpawnOptions options;
  options.argv = {probe_bin};
  // No --allow-kill-all: on the host the probe judges kill-all without sending it.
  Append(&options.argv, HostFacts(suid_bin));
  options.as_user = attacker_;
  ProcessResult probe = RunCommand(options, 300);
  ProbeReport report = ParseProbeOutput(probe.output);
  CollectPlanted();

  EXPECT_EQ(probe.exit_code, 1) << "the probe must exit 1 when anything escaped";
  for (const char* name :
       {"host-tcp-loopback", "host-abstract-socket", "host-unix-socket", "kill-host-sentinel",
        "ptrace-host-sentinel", "other-home-secret", "host-tmp-visible", "seccomp-off",
        "no-new-privs-unset", "clone3-newuser", "tiocsti-own-terminal", "kill-all"}) {
    EXPECT_TRUE(HasVerdict(report.escaped, "ESCAPED", name))
        << "on the bare host the probe must report " << name << " as ESCAPED";
  }
  EXPECT_TRUE(scene_->SentinelAlive()) << "the bare-host probe must not harm the sentinel";
}

}  // namespace
}  // namespace moat::escape_test
