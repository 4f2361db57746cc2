// What both escape-suite drivers share (escape_suite_test.cc: the probe in a sandbox wall,
// vm_escape_suite_test.cc: the probe in a VM session's guest): the test users and the secret,
// the host scene, the facts the probe is told about the host, the parsing of its verdicts,
// the verdicts only the host can give, and the rules a run must pass.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "escape_suite_host.h"

namespace moat::escape_test {

constexpr int kMinBlockedAttacks = 45;
constexpr const char* kVictimHomeFile = "moat-esc-secret";

// "--flag value" pairs; an empty value makes a bare flag.
using Flags = std::vector<std::pair<std::string, std::string>>;
void Append(std::vector<std::string>* argv, const Flags& flags);

struct ProbeReport {
  std::vector<std::string> blocked, escaped, skipped;
  std::vector<std::string> notes;  // NOTE lines: what an attack did, judged by the host
  std::set<std::string> names;
  std::string summary;
};

// Prints every line of the probe's output and sorts its verdicts.
ProbeReport ParseProbeOutput(const std::string& output);

std::string Join(const std::vector<std::string>& parts);
std::string Lines(const std::vector<std::string>& lines);

// A verdict only the host can give, printed like the probe's.
void HostVerdict(const std::string& name, bool blocked, const std::string& detail,
                 ProbeReport* report);
bool HasVerdict(const std::vector<std::string>& lines, const std::string& word,
                const std::string& name);

// The rules of a run inside a wall: no ESCAPED or SKIPPED line, at least `min_blocked`
// BLOCKED ones, a verdict for every attack the probe has (`moat-escape-probe --list`, with
// `--vm` for a guest), and the output complete (kill-all's verdict and the summary line).
void ExpectNoEscape(const ProbeReport& report, int min_blocked, bool vm = false);

class VictimSandbox;

// The users, the victim's secret and the host scene; skips when not root.
class EscapeSuiteBase : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // What the probe is told about the host; each driver adds the victim's facts.
  Flags HostFacts(const std::string& suid_path) const;
  // Returns the files the probe's plant-host-files attack left on the host, and removes them.
  std::vector<std::string> CollectPlanted() const;
  // The host verdicts of both drivers: sentinel alive, /etc/passwd unchanged, nothing planted.
  void JudgeHost(const std::string& passwd_before, ProbeReport* report) const;

  // The probe's own terminal: a TIOCSTI from inside echoes its '#' on the pty's output side.
  void JudgeTty(ProbeReport* report) const;
  // Runs `argv` (the probe inside a wall) on the scene's terminal, adds the host's, the
  // victim's and the terminal's verdicts and applies the rules; returns whether it timed out.
  // `only`: the attacks the probe was told to make (--only), each of which must then be
  // BLOCKED; empty: all of them, by the full rules (ExpectNoEscape).
  bool RunProbeInWall(const std::vector<std::string>& argv, const std::string& passwd_before,
                      const VictimSandbox& victim, const std::vector<std::string>& only = {});

  std::string nonce_, secret_, secret_file_;
  std::optional<HostUser> attacker_, victim_user_;
  std::unique_ptr<HostScene> scene_;
};

// The victim of the sandbox-wall drivers: another user's sandbox session running
// moat-escape-victim (markers in /tmp and /dev/shm, sockets, SysV memory, the secret in its
// environment, a desktop's RFB socket in its display host dir), stopped with the object.
class VictimSandbox {
 public:
  VictimSandbox(std::string run_dir, const std::string& nonce, int host_shm_key);
  ~VictimSandbox() { Stop(); }
  // Starts it as `user` and waits until it is ready; failures are fatal test failures.
  void Start(const HostUser& user, const std::string& secret);
  void Stop();
  // The probe's facts about the victim and the run directory, kill-all allowed.
  Flags ProbeFacts() const;
  // Adds "victim-survives".
  void Judge(ProbeReport* report) const;

 private:
  std::string run_dir_, id_, marker_, unix_socket_, shm_key_, rfb_socket_;
  pid_t pid_ = -1;
  bool running_ = false;
};

}  // namespace moat::escape_test
