// moat-escape-probe: runs every escape attack from inside a session wall and prints one
// verdict line per attack (see probe.h for the format). Exits 0 only when nothing escaped.
//
// Each attack runs in a forked child that reports over a pipe: a crash, a seccomp kill, a
// changed uid or a new namespace stays in that child. A child that dies of SIGSYS was stopped
// by seccomp (blocked); one that crashes otherwise or hangs is inconclusive and counts as an
// escape, because a security test fails closed.
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

#include "probe.h"

namespace moat::escape {
namespace {

constexpr int kAttackTimeoutMs = 20000;

struct Tally {
  int blocked = 0;
  int escaped = 0;
  int skipped = 0;
};

void WriteAll(const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(STDOUT_FILENO, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

void Print(const char* name, const Outcome& o, Tally* tally) {
  const char* word = "NOTE";
  switch (o.verdict) {
    case Verdict::kBlocked:
      word = "BLOCKED";
      ++tally->blocked;
      break;
    case Verdict::kEscaped:
      word = "ESCAPED";
      ++tally->escaped;
      break;
    case Verdict::kSkipped:
      word = "SKIPPED";
      ++tally->skipped;
      break;
    case Verdict::kNote:
      break;
  }
  std::string detail = o.detail.substr(0, 600);
  for (char& c : detail) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  WriteAll(std::string(word) + " " + name + ": " + detail + "\n");
}

char VerdictCode(Verdict v) {
  switch (v) {
    case Verdict::kBlocked:
      return 'B';
    case Verdict::kEscaped:
      return 'E';
    case Verdict::kSkipped:
      return 'S';
    case Verdict::kNote:
      return 'N';
  }
  return 'E';
}

Outcome Decode(const std::string& wire) {
  std::string detail = wire.size() > 1 ? wire.substr(1) : "";
  switch (wire.empty() ? '\0' : wire[0]) {
    case 'B':
      return Blocked(detail);
    case 'S':
      return Skipped(detail);
    case 'N':
      return Note(detail);
    case 'E':
      return Escaped(detail);
    default:
      return Escaped("inconclusive: the attack reported nothing");
  }
}

Outcome RunInChild(const Attack& attack, const Facts& facts) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Escaped("inconclusive: " + Failed("pipe2", errno));
  pid_t pid = fork();
  if (pid < 0) return Escaped("inconclusive: " + Failed("fork", errno));
  if (pid == 0) {
    close(fds[0]);
    signal(SIGPIPE, SIG_DFL);
    Outcome o = attack.run(facts);
    std::string wire = VerdictCode(o.verdict) + o.detail;
    (void)!write(fds[1], wire.data(), wire.size());
    _exit(0);
  }
  close(fds[1]);
  std::string wire;
  bool timed_out = false;
  for (;;) {
    pollfd p{fds[0], POLLIN, 0};
    int rc = poll(&p, 1, kAttackTimeoutMs);
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) {
      timed_out = true;
      break;
    }
    char buf[1024];
    ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    wire.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return Escaped("inconclusive: no answer within 20 s");
  if (WIFSIGNALED(status) && wire.empty()) {
    int sig = WTERMSIG(status);
    if (sig == SIGSYS) return Blocked("killed by seccomp (SIGSYS)");
    return Escaped(std::string("inconclusive: the attack died of ") + strsignal(sig));
  }
  return Decode(wire);
}

bool ParseInt(const char* text, long* out) {
  char* end = nullptr;
  errno = 0;
  long v = strtol(text, &end, 0);
  if (errno != 0 || end == text || *end != '\0') return false;
  *out = v;
  return true;
}

[[noreturn]] void Usage(const std::string& problem) {
  WriteAll("moat-escape-probe: " + problem +
           "\nusage: moat-escape-probe [--host-pid N] [--host-tcp-port P] "
           "[--host-unix-socket PATH] [--host-abstract NAME] [--host-run-dir DIR] "
           "[--host-tmp-marker NAME] [--root-marker NAME] [--host-shm-key K] "
           "[--victim-host-pid N] [--victim-id ID] [--victim-abstract NAME] "
           "[--victim-unix-socket PATH] [--victim-run-path PATH]... [--victim-user-home DIR] "
           "[--victim-home-file NAME] [--victim-tmp-marker NAME] [--victim-shm-key K] "
           "[--victim-rfb-socket PATH] [--victim-x11-display N] "
           "[--secret TEXT | --secret-hex HEX] [--suid-helper PATH] [--nonce TEXT] "
           "[--vm] [--own-vm-path PATH]... [--host-user-dir DIR] [--host-export-socket PATH] "
           "[--allow-kill-all] [--output FILE] [--only NAME]... [--list]\n");
  _exit(2);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexDigit(hex[i]), lo = i + 1 < hex.size() ? HexDigit(hex[i + 1]) : -1;
    if (hi < 0 || lo < 0) Usage("'--secret-hex' needs an even number of hex digits");
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

int Number(const std::string& flag, const char* value) {
  long n = 0;
  if (!ParseInt(value, &n)) Usage("'" + flag + "' needs a number, got '" + value + "'");
  return static_cast<int>(n);  // SysV keys above INT_MAX wrap, as key_t does
}

struct FlagSpec {
  const char* name;
  void (*apply)(Facts* f, const std::string& flag, const char* value);
};

constexpr FlagSpec kFlags[] = {
    {"--host-pid",
     [](Facts* f, const std::string& k, const char* v) { f->host_pid = Number(k, v); }},
    {"--host-tcp-port",
     [](Facts* f, const std::string& k, const char* v) { f->host_tcp_port = Number(k, v); }},
    {"--host-unix-socket",
     [](Facts* f, const std::string&, const char* v) { f->host_unix_socket = v; }},
    {"--host-abstract", [](Facts* f, const std::string&, const char* v) { f->host_abstract = v; }},
    {"--host-run-dir", [](Facts* f, const std::string&, const char* v) { f->host_run_dir = v; }},
    {"--host-tmp-marker",
     [](Facts* f, const std::string&, const char* v) { f->host_tmp_marker = v; }},
    {"--root-marker", [](Facts* f, const std::string&, const char* v) { f->root_marker = v; }},
    {"--host-shm-key",
     [](Facts* f, const std::string& k, const char* v) { f->host_shm_key = Number(k, v); }},
    {"--victim-host-pid",
     [](Facts* f, const std::string& k, const char* v) { f->victim_host_pid = Number(k, v); }},
    {"--victim-id", [](Facts* f, const std::string&, const char* v) { f->victim_id = v; }},
    {"--victim-abstract",
     [](Facts* f, const std::string&, const char* v) { f->victim_abstract = v; }},
    {"--victim-unix-socket",
     [](Facts* f, const std::string&, const char* v) { f->victim_unix_socket = v; }},
    {"--victim-run-path",
     [](Facts* f, const std::string&, const char* v) { f->victim_run_paths.push_back(v); }},
    {"--victim-user-home",
     [](Facts* f, const std::string&, const char* v) { f->victim_user_home = v; }},
    {"--victim-home-file",
     [](Facts* f, const std::string&, const char* v) { f->victim_home_file = v; }},
    {"--victim-tmp-marker",
     [](Facts* f, const std::string&, const char* v) { f->victim_tmp_marker = v; }},
    {"--victim-rfb-socket",
     [](Facts* f, const std::string&, const char* v) { f->victim_rfb_socket = v; }},
    {"--victim-x11-display",
     [](Facts* f, const std::string&, const char* v) { f->victim_x11_display = v; }},
    {"--victim-shm-key",
     [](Facts* f, const std::string& k, const char* v) { f->victim_shm_key = Number(k, v); }},
    {"--secret", [](Facts* f, const std::string&, const char* v) { f->secret = v; }},
    {"--secret-hex", [](Facts* f, const std::string&, const char* v) { f->secret = FromHex(v); }},
    {"--suid-helper", [](Facts* f, const std::string&, const char* v) { f->suid_helper = v; }},
    {"--nonce", [](Facts* f, const std::string&, const char* v) { f->nonce = v; }},
    {"--own-vm-path",
     [](Facts* f, const std::string&, const char* v) { f->own_vm_paths.push_back(v); }},
    {"--host-user-dir", [](Facts* f, const std::string&, const char* v) { f->host_user_dir = v; }},
    {"--host-export-socket",
     [](Facts* f, const std::string&, const char* v) { f->host_export_socket = v; }},
};

// A VM guest's applications write to a log the host cannot read: the verdicts then go to a
// file in the home, which the host shares.
void RedirectOutput(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) Usage(Failed("open '" + path + "'", errno));
  close(fd);
}

Facts ParseArgs(int argc, char** argv, std::vector<std::string>* only, bool* list) {
  Facts f;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--allow-kill-all" || flag == "--vm") {
      (flag == "--vm" ? f.in_vm : f.allow_kill_all) = true;
      continue;
    }
    if (flag == "--list") {
      *list = true;
      continue;
    }
    if (i + 1 >= argc) Usage("'" + flag + "' needs a value");
    const char* value = argv[++i];
    if (flag == "--only") {
      only->push_back(value);
      continue;
    }
    if (flag == "--output") {
      RedirectOutput(value);
      continue;
    }
    bool known = false;
    for (const FlagSpec& spec : kFlags) {
      if (flag == spec.name) {
        spec.apply(&f, flag, value);
        known = true;
      }
    }
    if (!known) Usage("unknown flag '" + flag + "'");
  }
  return f;
}

bool Selected(const std::vector<std::string>& only, const char* name) {
  if (only.empty()) return true;
  for (const auto& o : only) {
    if (o == name) return true;
  }
  return false;
}

}  // namespace

// kill(-1, SIGKILL) reaches every process the caller may signal except itself and its pid
// namespace's init. It runs in the probe's own process, after every attack child is reaped,
// so the probe survives it; only the driver can see whether the host sentinel did.
Outcome KillAllAttack(const Facts& f) {
  if (f.host_pid <= 0) return Skipped("needs --host-pid");
  Outcome visible = SignalPid(f.host_pid, "sleep");
  if (visible.verdict == Verdict::kEscaped) {
    return Escaped("the host sentinel is signalable, so kill(-1) would reach it (not sent): " +
                   visible.detail);
  }
  std::string ns = PidNamespace();
  // A guest's initial pid namespace is its own kernel's: kill(-1) reaches the guest only.
  if (ns == kInitialPidNamespace && !f.in_vm) {
    return Escaped(
        "in the initial pid namespace: kill(-1, SIGKILL) would reach every host "
        "process of uid " +
        std::to_string(getuid()) + " (not sent)");
  }
  if (!f.allow_kill_all) return Skipped("kill(-1, SIGKILL) is only sent with --allow-kill-all");
  int rc = kill(-1, SIGKILL);
  int err = errno;
  std::string how = rc == 0 ? "hit only processes inside " + ns : Failed("kill(-1, SIGKILL)", err);
  Outcome after = SignalPid(f.host_pid, "sleep");
  if (after.verdict == Verdict::kEscaped) return Escaped("after kill(-1): " + after.detail);
  return Blocked(how + "; the host sentinel " + std::to_string(f.host_pid) +
                 " is out of reach (the driver checks it still runs)");
}

}  // namespace moat::escape

int main(int argc, char** argv) {
  using namespace moat::escape;
  signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> only;
  bool list = false;
  Facts facts = ParseArgs(argc, argv, &only, &list);
  Tally tally;
  std::vector<std::span<const Attack>> tables = {
      HostAttacks(),   MountAttacks(),     ProcSysAttacks(),      KernelAttacks(),
      DeviceAttacks(), PrivilegeAttacks(), CrossSessionAttacks(), CgroupAttacks()};
  if (facts.in_vm) tables.push_back(VmBoundaryAttacks());
  // Every attack this run would make, kill-all last: the drivers check each got its verdict,
  // so that a table or an attack that silently drops out is noticed.
  if (list) {
    for (auto table : tables) {
      for (const Attack& attack : table) WriteAll(std::string(attack.name) + "\n");
    }
    WriteAll("kill-all\n");
    return 0;
  }
  for (auto table : tables) {
    for (const Attack& attack : table) {
      if (Selected(only, attack.name)) Print(attack.name, RunInChild(attack, facts), &tally);
    }
  }
  if (Selected(only, "kill-all")) Print("kill-all", KillAllAttack(facts), &tally);
  WriteAll("escape-suite: " + std::to_string(tally.blocked) + " blocked, " +
           std::to_string(tally.escaped) + " escaped, " + std::to_string(tally.skipped) +
           " skipped\n");
  return tally.escaped == 0 ? 0 : 1;
}
