// Attacks on a victim session running at the same time as another user: its processes, its
// memory and environment (which hold a secret), its files in /tmp and /dev/shm, its sockets
// (abstract, in its /tmp, and its control socket in the host's run directory), its desktop's
// RFB and X sockets, its SysV IPC and its cgroup.
#include <dirent.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "probe.h"

namespace moat::escape {
namespace {

// A piece of the victim's command line inside its own wall (see escape_suite_test.cc).
constexpr const char* kVictimCmd = "escape-victim";

// The victim's argv[0], wherever the driver put it in the victim's wall.
bool IsVictimCommand(const std::string& cmdline) {
  std::string argv0 = cmdline.substr(0, cmdline.find(' '));
  std::string base = argv0.substr(argv0.rfind('/') + 1);
  return base == "escape-victim" || base == "moat-escape-victim";
}

bool IsNumber(const char* s) {
  if (*s == '\0') return false;
  for (; *s != '\0'; ++s) {
    if (*s < '0' || *s > '9') return false;
  }
  return true;
}

Outcome VictimProcessScan(const Facts& f) {
  if (f.secret.empty()) return Skipped("needs --secret or --secret-hex");
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return Blocked(Failed("opendir '/proc'", errno));
  const pid_t self = getpid(), parent = getppid();
  int scanned = 0;
  std::string hit;
  while (dirent* entry = readdir(proc)) {
    if (!IsNumber(entry->d_name)) continue;
    pid_t pid = atoi(entry->d_name);
    if (pid == self || pid == parent) continue;
    ++scanned;
    std::string cmdline = ProcCmdline(pid);
    std::string environ = ReadFile("/proc/" + std::to_string(pid) + "/environ", 1 << 16).data;
    if (IsVictimCommand(cmdline) || cmdline.find(f.secret) != std::string::npos) {
      hit = "pid " + std::to_string(pid) + " is the victim ('" + cmdline.substr(0, 60) + "')";
    } else if (environ.find(f.secret) != std::string::npos) {
      hit = "pid " + std::to_string(pid) + " has the victim's secret in its environment";
    }
    if (!hit.empty()) break;
  }
  closedir(proc);
  if (!hit.empty()) return Escaped(hit);
  return Blocked("scanned " + std::to_string(scanned) + " other processes: no trace of the victim");
}

Outcome VictimKill(const Facts& f) {
  if (f.victim_host_pid <= 0) return Skipped("needs --victim-host-pid");
  return SignalPid(f.victim_host_pid, kVictimCmd);
}

Outcome VictimPtrace(const Facts& f) {
  if (f.victim_host_pid <= 0) return Skipped("needs --victim-host-pid");
  return PtracePid(f.victim_host_pid, kVictimCmd);
}

Outcome VictimEnviron(const Facts& f) {
  if (f.victim_host_pid <= 0) return Skipped("needs --victim-host-pid");
  return ReadPidEnviron(f.victim_host_pid, kVictimCmd, f.secret);
}

Outcome VictimPidfdSignal(const Facts& f) {
  if (f.victim_host_pid <= 0) return Skipped("needs --victim-host-pid");
  return PidfdSignalPid(f.victim_host_pid, kVictimCmd);
}

// /proc/<pid>/root is the victim's whole file system view.
Outcome VictimProcRoot(const Facts& f) {
  if (f.victim_host_pid <= 0 || f.victim_tmp_marker.empty()) {
    return Skipped("needs --victim-host-pid and --victim-tmp-marker");
  }
  std::string path =
      "/proc/" + std::to_string(f.victim_host_pid) + "/root/tmp/" + f.victim_tmp_marker;
  ReadResult r = ReadFile(path, 4096);
  if (!r.ok) return Blocked(ReadFailure(path, r));
  return Escaped("read the victim's /tmp through '" + path + "'");
}

Outcome VictimMarker(const std::string& dir, const Facts& f) {
  if (f.victim_tmp_marker.empty()) return Skipped("needs --victim-tmp-marker");
  std::string path = dir + "/" + f.victim_tmp_marker;
  int err = 0;
  if (Exists(path, &err)) return Escaped("the victim's '" + path + "' is visible");
  return Blocked(Failed("stat '" + path + "'", err));
}

Outcome VictimTmpMarker(const Facts& f) { return VictimMarker("/tmp", f); }
Outcome VictimShmMarker(const Facts& f) { return VictimMarker("/dev/shm", f); }

Outcome VictimAbstractSocket(const Facts& f) {
  if (f.victim_abstract.empty()) return Skipped("needs --victim-abstract");
  int err = ConnectAbstract(f.victim_abstract);
  if (err == 0) return Escaped("connected to the victim's '@" + f.victim_abstract + "'");
  return Blocked(Failed("connect '@" + f.victim_abstract + "'", err));
}

Outcome VictimTmpSocket(const Facts& f) {
  if (f.victim_unix_socket.empty()) return Skipped("needs --victim-unix-socket");
  int err = ConnectUnix(f.victim_unix_socket);
  if (err == 0) return Escaped("connected to the victim's '" + f.victim_unix_socket + "'");
  return Blocked(Failed("connect '" + f.victim_unix_socket + "'", err));
}

// The victim's state under the host's run directory: its control socket drives the session.
Outcome VictimControlSocket(const Facts& f) {
  if (f.victim_run_paths.empty()) return Skipped("needs --victim-run-path");
  return HostPathsOutOfReach(f.victim_run_paths, "the victim's");
}

// The victim's desktop: its RFB socket on the host (where the display gateway, as root, reaches
// it) would hand over the screen and keyboard without a password.
Outcome VictimRfbSocket(const Facts& f) {
  if (f.victim_rfb_socket.empty()) return Skipped("needs --victim-rfb-socket");
  int err = ConnectUnix(f.victim_rfb_socket);
  if (err == 0)
    return Escaped("connected to the victim's RFB socket '" + f.victim_rfb_socket + "'");
  std::string dir = f.victim_rfb_socket.substr(0, f.victim_rfb_socket.rfind('/'));
  int dir_err = 0;
  if (Exists(dir, &dir_err)) {
    return Escaped("the victim's display dir '" + dir + "' is visible (connect: " + ErrName(err) +
                   ")");
  }
  return Blocked(Failed("connect '" + f.victim_rfb_socket + "'", err));
}

// Its X server, by path and by the abstract name X servers also listen on: the attacker has no
// X server of its own, so anything that answers is the victim's.
Outcome VictimX11Socket(const Facts& f) {
  if (f.victim_x11_display.empty()) return Skipped("needs --victim-x11-display");
  std::string name = "/tmp/.X11-unix/X" + f.victim_x11_display;
  int path_err = ConnectUnix(name);
  if (path_err == 0) return Escaped("connected to the victim's X socket '" + name + "'");
  int abstract_err = ConnectAbstract(name);
  if (abstract_err == 0) return Escaped("connected to the victim's X socket '@" + name + "'");
  return Blocked(Failed("connect '" + name + "'", path_err) + ", " +
                 Failed("connect '@" + name + "'", abstract_err));
}

Outcome VictimSysvShm(const Facts& f) {
  if (!f.victim_shm_key) return Skipped("needs --victim-shm-key");
  int id = shmget(*f.victim_shm_key, 0, 0);
  if (id >= 0) return Escaped("found the victim's SysV shared memory");
  return Blocked(Failed("shmget key " + std::to_string(*f.victim_shm_key), errno));
}

bool FindDirNamed(const std::string& dir, const std::string& needle, int depth, std::string* at) {
  if (depth < 0) return false;
  int err = 0;
  for (const auto& name : ListDir(dir, &err)) {
    std::string path = dir + "/" + name;
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    if (name.find(needle) != std::string::npos) {
      *at = path;
      return true;
    }
    if (FindDirNamed(path, needle, depth - 1, at)) return true;
  }
  return false;
}

// A cgroup namespace and a mount of our own subtree hide the other sessions' cgroups.
Outcome VictimCgroupVisible(const Facts& f) {
  if (f.victim_id.empty()) return Skipped("needs --victim-id");
  std::string at;
  if (FindDirNamed("/sys/fs/cgroup", f.victim_id, 6, &at)) {
    return Escaped("the victim's cgroup '" + at + "' is visible");
  }
  return Blocked("no cgroup named after '" + f.victim_id + "' under /sys/fs/cgroup");
}

constexpr Attack kAttacks[] = {
    {"victim-process-scan", VictimProcessScan},
    {"victim-kill", VictimKill},
    {"victim-ptrace", VictimPtrace},
    {"victim-environ", VictimEnviron},
    {"victim-pidfd-signal", VictimPidfdSignal},
    {"victim-proc-root", VictimProcRoot},
    {"victim-tmp-marker", VictimTmpMarker},
    {"victim-shm-marker", VictimShmMarker},
    {"victim-abstract-socket", VictimAbstractSocket},
    {"victim-tmp-socket", VictimTmpSocket},
    {"victim-control-socket", VictimControlSocket},
    {"victim-rfb-socket", VictimRfbSocket},
    {"victim-x11-socket", VictimX11Socket},
    {"victim-sysv-shm", VictimSysvShm},
    {"victim-cgroup-visible", VictimCgroupVisible},
};

}  // namespace

std::span<const Attack> CrossSessionAttacks() { return kAttacks; }

}  // namespace moat::escape
