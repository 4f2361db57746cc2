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
        add("SKIPPED", &report.skipped)) {
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

void ExpectNoEscape(const ProbeReport& report, int min_blocked) {
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

}  // namespace moat::escape_test
