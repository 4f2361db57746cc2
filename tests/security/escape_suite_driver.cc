#include "escape_suite_driver.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <sstream>

namespace moat::escape_test {

void Append(std::vector<std::string>* argv, const Flags& flags) {
  for (const auto& [flag, value] : flags) {
    argv->push_back(flag);
    if (!value.empty()) argv->push_back(value);
  }
}

ProbeReport ParseProbeOutput(const std::string& output) {
  ProbeReport report;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    std::cout << line << "\n";
    auto add = [&](const char* word, std::vector<std::string>* into) {
      std::string prefix = std::string(word) + " ";
      if (line.rfind(prefix, 0) != 0) return false;
      into->push_back(line);
      report.names.insert(line.substr(prefix.size(), line.find(':') - prefix.size()));
      return true;
    };
    if (add("BLOCKED", &report.blocked) || add("ESCAPED", &report.escaped) ||
        add("SKIPPED", &report.skipped) || add("NOTE", &report.notes)) {
      continue;
    }
    if (line.rfind("escape-suite: ", 0) == 0) report.summary = line;
  }
  std::cout.flush();
  return report;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

std::string Lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += "  " + l + "\n";
  return out;
}

void HostVerdict(const std::string& name, bool blocked, const std::string& detail,
                 ProbeReport* report) {
  std::string line = std::string(blocked ? "BLOCKED " : "ESCAPED ") + name + ": " + detail;
  std::cout << line << std::endl;
  (blocked ? report->blocked : report->escaped).push_back(line);
}

bool HasVerdict(const std::vector<std::string>& lines, const std::string& word,
                const std::string& name) {
  for (const auto& line : lines) {
    if (line.rfind(word + " " + name + ":", 0) == 0) return true;
  }
  return false;
}

void ExpectNoEscape(const ProbeReport& report, int min_blocked, bool vm) {
  std::vector<std::string> argv = {MOAT_ESCAPE_PROBE_BIN, "--list"};
  if (vm) argv.push_back("--vm");
  ProcessResult listed = RunCommand(argv, 30);
  ASSERT_EQ(listed.exit_code, 0) << "moat-escape-probe --list: " << listed.output;
  std::vector<std::string> missing;
  size_t attacks = 0;
  std::istringstream names(listed.output);
  for (std::string name; std::getline(names, name);) {
    if (name.empty()) continue;
    ++attacks;
    if (!report.names.count(name)) missing.push_back(name);
  }
  EXPECT_GE(attacks, static_cast<size_t>(min_blocked)) << "the probe lists too few attacks";
  EXPECT_TRUE(missing.empty()) << missing.size() << " attacks gave no verdict: " << Join(missing);
  EXPECT_TRUE(report.escaped.empty()) << report.escaped.size() << " attacks escaped:\n"
                                      << Lines(report.escaped);
  EXPECT_TRUE(report.skipped.empty()) << "attacks skipped for want of a fact:\n"
                                      << Lines(report.skipped);
  EXPECT_GE(static_cast<int>(report.blocked.size()), min_blocked);
  EXPECT_EQ(report.names.count("kill-all"), 1u)
      << "no kill-all verdict: the probe's output ended early";
  EXPECT_NE(report.summary, "") << "no summary line: the probe did not finish";
}

void EscapeSuiteBase::SetUp() {
  if (geteuid() != 0) GTEST_SKIP() << "the escape suite creates users and walls: run as root";
  nonce_ = RandomHex(6);
  std::string error;
  attacker_ = EnsureUser("moat-esc-a", &error);
  ASSERT_TRUE(attacker_) << error;
  victim_user_ = EnsureUser("moat-esc-b", &error);
  ASSERT_TRUE(victim_user_) << error;
  secret_ = "moat-secret-" + RandomHex(12);
  // World-readable on purpose: the wall's masking of other homes must be what stops it.
  chmod(victim_user_->home.c_str(), 0755);
  secret_file_ = victim_user_->home + "/" + kVictimHomeFile;
  ASSERT_TRUE(WriteWholeFile(secret_file_, secret_ + "\n", 0644));
  ASSERT_EQ(chown(secret_file_.c_str(), victim_user_->uid, victim_user_->gid), 0);
  // The driver, not the build, makes the helper setuid root (CMake cannot chown).
  ASSERT_EQ(chown(MOAT_ESCAPE_SUID_BIN, 0, 0), 0) << strerror(errno);
  ASSERT_EQ(chmod(MOAT_ESCAPE_SUID_BIN, 04755), 0) << strerror(errno);
  scene_ = std::make_unique<HostScene>(nonce_);
  std::string failed = scene_->Prepare(*attacker_);
  ASSERT_EQ(failed, "") << "preparing the host: " << failed;
}

void EscapeSuiteBase::TearDown() {
  if (!secret_file_.empty()) unlink(secret_file_.c_str());
}

Flags EscapeSuiteBase::HostFacts(const std::string& suid_path) const {
  return {{"--host-pid", std::to_string(scene_->sentinel_pid())},
          {"--host-tcp-port", std::to_string(scene_->tcp_port())},
          {"--host-unix-socket", scene_->unix_socket()},
          {"--host-abstract", scene_->abstract_name()},
          {"--host-tmp-marker", scene_->tmp_marker()},
          {"--root-marker", scene_->root_marker()},
          {"--host-shm-key", std::to_string(scene_->shm_key())},
          {"--victim-user-home", victim_user_->home},
          {"--victim-home-file", kVictimHomeFile},
          {"--secret-hex", ToHex(secret_)},
          {"--suid-helper", suid_path},
          {"--nonce", nonce_}};
}

std::vector<std::string> EscapeSuiteBase::CollectPlanted() const {
  std::vector<std::string> found;
  for (const char* dir : {"/tmp", "/var/tmp", "/dev/shm", "/etc", "", "/usr/local", "/opt"}) {
    std::string path = std::string(dir) + "/moat-escape-" + nonce_;
    struct stat st {};
    if (lstat(path.c_str(), &st) == 0) {
      found.push_back(path);
      unlink(path.c_str());
    }
  }
  return found;
}

void EscapeSuiteBase::JudgeHost(const std::string& passwd_before, ProbeReport* report) const {
  bool sentinel_alive = scene_->SentinelAlive();
  HostVerdict("host-sentinel-survives", sentinel_alive,
              "sentinel pid " + std::to_string(scene_->sentinel_pid()) +
                  (sentinel_alive ? " still runs" : " is gone"),
              report);
  bool passwd_same = ReadWholeFile("/etc/passwd").value_or("") == passwd_before;
  HostVerdict("host-passwd-unchanged", passwd_same,
              passwd_same ? "/etc/passwd is byte-for-byte the same" : "/etc/passwd changed",
              report);
  std::vector<std::string> leaked = CollectPlanted();
  HostVerdict("host-files-untouched", leaked.empty(),
              leaked.empty() ? "no planted file reached the host"
                             : "planted files reached the host: " + Join(leaked),
              report);
}

void EscapeSuiteBase::JudgeTty(ProbeReport* report) const {
  bool injected = scene_->DrainTty().find('#') != std::string::npos;
  HostVerdict("host-tty-untouched", !injected,
              injected ? "an injected '#' reached the terminal outside the wall"
                       : "nothing was injected into the terminal outside the wall",
              report);
}

namespace {
constexpr const char* kVictimInWall = "/opt/moat-test/escape-victim";
}  // namespace

VictimSandbox::VictimSandbox(std::string run_dir, const std::string& nonce, int host_shm_key)
    // Ids carry the nonce: cgroup names are host-wide, whatever the run directory.
    : run_dir_(std::move(run_dir)),
      id_("esc-victim-" + nonce),
      marker_("moat-esc-victim-" + nonce),
      unix_socket_("/tmp/" + marker_ + ".sock"),
      shm_key_(std::to_string(host_shm_key ^ 0x00010000)),
      // Where a desktop session's RFB socket is on the host (agent/src/desktop_launcher.h).
      rfb_socket_(run_dir_ + "/sessions/" + id_ + "/display/rfb.sock") {}

void VictimSandbox::Start(const HostUser& user, const std::string& secret) {
  std::vector<std::string> argv = {MOAT_SANDBOX_BIN, "--run-dir", run_dir_, "run"};
  Append(&argv, {{"--detach", ""},
                 {"--id", id_},
                 {"--user", user.name},
                 {"--env", "MOAT_ESC_SECRET=" + secret},
                 {"--ro-bind", std::string(MOAT_ESCAPE_VICTIM_BIN) + ":" + kVictimInWall},
                 {"--host-dir", "display"},
                 {"--", kVictimInWall},
                 {"--marker", marker_},
                 {"--abstract", marker_},
                 {"--unix-socket", unix_socket_},
                 {"--shm-key", shm_key_},
                 {"--rfb-socket", "/run/moat/display/rfb.sock"},
                 {"--x11-display", "1"}});
  ProcessResult started = RunCommand(argv, 120);
  ASSERT_EQ(started.exit_code, 0) << "starting the victim session: " << started.output;
  running_ = true;
  pid_ = FindProcess(kVictimInWall, marker_, 30);
  ASSERT_GT(pid_, 0) << "the victim application never appeared on the host";
  ASSERT_TRUE(WaitForPath("/proc/" + std::to_string(pid_) + "/root/tmp/" + marker_, 30))
      << "the victim never became ready";
  ASSERT_EQ(access(rfb_socket_.c_str(), F_OK), 0)
      << "the victim's desktop socket is not in its display host dir: " << strerror(errno);
}

void VictimSandbox::Stop() {
  if (!running_) return;
  running_ = false;
  ProcessResult r =
      RunCommand({MOAT_SANDBOX_BIN, "--run-dir", run_dir_, "stop", id_, "--grace", "2"}, 60);
  EXPECT_EQ(r.exit_code, 0) << "moat-sandbox stop " << id_ << ": " << r.output;
}

Flags VictimSandbox::ProbeFacts() const {
  Flags facts = {{"--host-run-dir", run_dir_},
                 {"--victim-host-pid", std::to_string(pid_)},
                 {"--victim-id", id_},
                 {"--victim-abstract", marker_},
                 {"--victim-unix-socket", unix_socket_},
                 {"--victim-tmp-marker", marker_},
                 {"--victim-shm-key", shm_key_},
                 {"--victim-rfb-socket", rfb_socket_},
                 {"--victim-x11-display", "1"},
                 {"--allow-kill-all", ""}};
  for (const auto& path : FindRunPaths(run_dir_ + "/sessions/" + id_)) {
    facts.push_back({"--victim-run-path", path});
  }
  return facts;
}

bool EscapeSuiteBase::RunProbeInWall(const std::vector<std::string>& argv,
                                     const std::string& passwd_before, const VictimSandbox& victim,
                                     const std::vector<std::string>& only) {
  constexpr int kProbeTimeoutSeconds = 600;
  SpawnOptions options;
  options.argv = argv;
  options.tty_path = scene_->tty_slave();
  ProcessResult probe = RunCommand(options, kProbeTimeoutSeconds);
  ProbeReport report = ParseProbeOutput(probe.output);
  // What only the host can see.
  JudgeHost(passwd_before, &report);
  victim.Judge(&report);
  JudgeTty(&report);
  EXPECT_FALSE(probe.timed_out) << "the probe did not finish within " << kProbeTimeoutSeconds
                                << " s";
  if (only.empty()) {
    ExpectNoEscape(report, kMinBlockedAttacks);
  } else {
    EXPECT_TRUE(report.escaped.empty()) << Lines(report.escaped);
    EXPECT_TRUE(report.skipped.empty()) << Lines(report.skipped);
    for (const auto& name : only) {
      EXPECT_TRUE(HasVerdict(report.blocked, "BLOCKED", name)) << name << " gave no BLOCKED";
    }
    EXPECT_NE(report.summary, "") << "no summary line: the probe did not finish";
  }
  EXPECT_EQ(probe.exit_code, 0) << argv[0] << " " << argv[3] << " exited " << probe.exit_code;
  return probe.timed_out;
}

void VictimSandbox::Judge(ProbeReport* report) const {
  bool alive = kill(pid_, 0) == 0 && ProcCmdline(pid_).find(marker_) != std::string::npos;
  HostVerdict("victim-survives", alive,
              "victim pid " + std::to_string(pid_) + (alive ? " still runs" : " is gone"), report);
}

}  // namespace moat::escape_test
