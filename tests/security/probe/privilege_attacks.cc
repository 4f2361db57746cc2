// Privilege: what the wall's credentials are (no capability in any set, no_new_privs,
// a seccomp filter), and the ways to get more: a setuid-root binary, setuid(0), chown to
// root, and the host's account files, which the overlay root must keep out of reach.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "probe.h"

namespace moat::escape {
namespace {

bool AllZero(const std::string& hex) { return hex.find_first_not_of('0') == std::string::npos; }

Outcome CapabilitySet(std::initializer_list<const char*> keys) {
  std::vector<std::string> values;
  bool any = false;
  for (const char* key : keys) {
    std::string value = StatusField(key);
    if (value.empty())
      return Escaped(std::string("cannot read ") + key + " from /proc/self/status");
    any |= !AllZero(value);
    values.push_back(std::string(key) + " " + value);
  }
  return any ? Escaped(Join(values, ", ")) : Blocked(Join(values, ", "));
}

Outcome CapabilitiesPresent(const Facts&) { return CapabilitySet({"CapEff", "CapPrm"}); }
// A bounding set that still holds a capability lets a setuid or file-capability binary get it.
Outcome CapabilityBoundingSet(const Facts&) { return CapabilitySet({"CapBnd"}); }
Outcome AmbientCapabilities(const Facts&) { return CapabilitySet({"CapAmb", "CapInh"}); }

Outcome NoNewPrivsUnset(const Facts&) {
  std::string value = StatusField("NoNewPrivs");
  if (value == "1") return Blocked("NoNewPrivs 1");
  return Escaped("NoNewPrivs '" + value + "': exec can still gain privileges");
}

Outcome SeccompOff(const Facts&) {
  std::string value = StatusField("Seccomp");
  if (value == "2") return Blocked("Seccomp 2 (filter mode)");
  return Escaped("Seccomp '" + value + "': no seccomp filter");
}

// moat-escape-suid prints "euid=N shadow=readable|unreadable:ERRNO".
Outcome SetuidHelper(const Facts& f) {
  if (f.suid_helper.empty()) return Skipped("needs --suid-helper");
  struct stat st {};
  if (stat(f.suid_helper.c_str(), &st) != 0) {
    return Skipped(Failed("stat '" + f.suid_helper + "'", errno));
  }
  if (!(st.st_mode & S_ISUID)) return Skipped("'" + f.suid_helper + "' is not setuid");
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return Skipped(Failed("pipe2", errno));
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    execl(f.suid_helper.c_str(), f.suid_helper.c_str(), nullptr);
    _exit(127);
  }
  close(out[1]);
  std::string text;
  char buf[256];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  if (text.empty())
    return Blocked("setuid helper did not run (status " + std::to_string(status) + ")");
  if (text.find("euid=0 ") != std::string::npos ||
      text.find("shadow=readable") != std::string::npos) {
    return Escaped("setuid-root helper says: " + text);
  }
  return Blocked("setuid bit had no effect: " + text);
}

Outcome SetuidRoot(const Facts&) {
  if (setuid(0) == 0) return Escaped("setuid(0) succeeded");
  return Blocked(Failed("setuid(0)", errno));
}

Outcome ChownToRoot(const Facts&) {
  std::string path = "/tmp/moat-escape-chown-" + std::to_string(getpid());
  int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return Blocked(Failed("create '" + path + "'", errno));
  close(fd);
  int rc = fchownat(AT_FDCWD, path.c_str(), 0, 0, 0);
  int err = errno;
  unlink(path.c_str());
  if (rc == 0) return Escaped("chown to root:root succeeded (CAP_CHOWN)");
  return Blocked(Failed("chown '" + path + "' 0:0", err));
}

// Not reading them is not enough: their modes alone stop that. The wall must not have the
// host's files there at all (host_secrets.h masks them with an empty node).
Outcome ReadShadow(const Facts&) {
  ReadResult r = ReadFile("/etc/shadow", 1);
  if (r.ok) return Escaped("read /etc/shadow");
  std::vector<std::string> present;
  for (const char* path : {"/etc/shadow", "/etc/gshadow", "/etc/ssh/ssh_host_ed25519_key",
                           "/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ecdsa_key"}) {
    struct stat st {};
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
      present.push_back(std::string(path) + " (" + std::to_string(st.st_size) + " bytes)");
    }
  }
  if (!present.empty()) {
    return Escaped("the host's " + Join(present, ", ") +
                   " are in the wall: only their modes keep them unread");
  }
  return Blocked(ReadFailure("/etc/shadow", r) + "; no host secret file is in the wall");
}

// Never writes: opening for writing is proof enough, and a bare-host run must not change the
// host's accounts. The driver also compares the host file before and after.
Outcome WritePasswd(const Facts&) {
  int fd = open("/etc/passwd", O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return Blocked(Failed("open '/etc/passwd' for writing", errno));
  close(fd);
  return Escaped("opened /etc/passwd for writing");
}

constexpr Attack kAttacks[] = {
    {"capabilities-present", CapabilitiesPresent},
    {"capability-bounding-set", CapabilityBoundingSet},
    {"ambient-capabilities", AmbientCapabilities},
    {"no-new-privs-unset", NoNewPrivsUnset},
    {"seccomp-off", SeccompOff},
    {"setuid-helper", SetuidHelper},
    {"setuid-root", SetuidRoot},
    {"chown-to-root", ChownToRoot},
    {"read-shadow", ReadShadow},
    {"write-passwd", WritePasswd},
};

}  // namespace

std::span<const Attack> PrivilegeAttacks() { return kAttacks; }

}  // namespace moat::escape
