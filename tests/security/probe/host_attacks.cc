// Reaching the host from the wall: its processes (a sentinel the driver runs as our own uid,
// so only the pid namespace protects it, and the wall's PID 1), its sockets (path, abstract,
// loopback TCP), its SysV IPC, and its files (other homes, /root, /run, /tmp, /dev/shm).
#include <fcntl.h>
#include <libgen.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "probe.h"

namespace moat::escape {
namespace {

constexpr const char* kSentinelCmd = "sleep";

Outcome KillHostSentinel(const Facts& f) {
  if (f.host_pid <= 0) return Skipped("needs --host-pid");
  return SignalPid(f.host_pid, kSentinelCmd);
}

Outcome PtraceHostSentinel(const Facts& f) {
  if (f.host_pid <= 0) return Skipped("needs --host-pid");
  return PtracePid(f.host_pid, kSentinelCmd);
}

Outcome HostSentinelEnviron(const Facts& f) {
  if (f.host_pid <= 0) return Skipped("needs --host-pid");
  return ReadPidEnviron(f.host_pid, kSentinelCmd, "");
}

Outcome PidfdHostSentinel(const Facts& f) {
  if (f.host_pid <= 0) return Skipped("needs --host-pid");
  return PidfdSignalPid(f.host_pid, kSentinelCmd);
}

// The wall's PID 1 is moat-init, which holds the session's link to the agent. It must be
// non-dumpable or foreign to the session's user, or tracing it hands over that link.
Outcome PtraceInit(const Facts&) { return PtracePid(1, ""); }

Outcome ConnectOutcome(const std::string& what, int err) {
  if (err == 0) return Escaped("connected to " + what);
  return Blocked(Failed("connect " + what, err));
}

Outcome HostUnixSocket(const Facts& f) {
  if (f.host_unix_socket.empty()) return Skipped("needs --host-unix-socket");
  return ConnectOutcome("'" + f.host_unix_socket + "'", ConnectUnix(f.host_unix_socket));
}

// Abstract names live in the network namespace, not the file system: only a separate net
// namespace hides them.
Outcome HostAbstractSocket(const Facts& f) {
  if (f.host_abstract.empty()) return Skipped("needs --host-abstract");
  return ConnectOutcome("'@" + f.host_abstract + "'", ConnectAbstract(f.host_abstract));
}

Outcome HostTcpLoopback(const Facts& f) {
  if (f.host_tcp_port <= 0) return Skipped("needs --host-tcp-port");
  return ConnectOutcome("127.0.0.1:" + std::to_string(f.host_tcp_port),
                        ConnectTcp4Loopback(f.host_tcp_port));
}

Outcome ShmOutcome(const char* whose, int key) {
  int id = shmget(key, 0, 0);
  if (id >= 0)
    return Escaped(std::string("found ") + whose + " SysV shared memory (key " +
                   std::to_string(key) + ")");
  return Blocked(Failed("shmget key " + std::to_string(key), errno));
}

Outcome HostSysvShm(const Facts& f) {
  if (!f.host_shm_key) return Skipped("needs --host-shm-key");
  return ShmOutcome("the host's", *f.host_shm_key);
}

// Our own home is granted by the spec: skip it by $HOME and by owner.
bool IsOwnHome(const std::string& path) {
  const char* home = getenv("HOME");
  if (home != nullptr && path == home) return true;
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && st.st_uid == getuid();
}

Outcome OtherHomes(const Facts& f) {
  if (f.victim_user_home.empty()) return Skipped("needs --victim-user-home");
  std::vector<std::string> homes = {f.victim_user_home};
  int err = 0;
  for (const auto& name : ListDir("/home", &err)) homes.push_back("/home/" + name);
  std::vector<std::string> seen;
  for (const auto& home : homes) {
    if (IsOwnHome(home)) continue;
    std::vector<std::string> entries = ListDir(home, &err);
    if (!entries.empty()) {
      return Escaped("listed " + std::to_string(entries.size()) + " entries of '" + home + "'");
    }
    seen.push_back(home + ": " + (err != 0 ? ErrName(err) : std::string("empty")));
  }
  return Blocked(Join(seen, ", "));
}

Outcome OtherHomeSecret(const Facts& f) {
  if (f.victim_user_home.empty() || f.victim_home_file.empty()) {
    return Skipped("needs --victim-user-home and --victim-home-file");
  }
  std::string path = f.victim_user_home + "/" + f.victim_home_file;
  ReadResult r = ReadFile(path, 4096);
  if (!r.ok) return Blocked(ReadFailure(path, r));
  bool hit = !f.secret.empty() && r.data.find(f.secret) != std::string::npos;
  return Escaped("read '" + path + "'" + (hit ? ", which holds the secret" : ""));
}

Outcome RootHome(const Facts& f) {
  if (!f.root_marker.empty() && Exists("/root/" + f.root_marker)) {
    return Escaped("the host's /root/" + f.root_marker + " is visible");
  }
  int err = 0;
  std::vector<std::string> entries = ListDir("/root", &err);
  if (!entries.empty())
    return Escaped("listed " + std::to_string(entries.size()) + " entries of /root");
  return Blocked(err != 0 ? Failed("opendir '/root'", err) : "/root is empty");
}

Outcome HostRunVisible(const Facts& f) {
  std::vector<std::string> paths = {"/run/dbus/system_bus_socket", "/run/systemd/private",
                                    "/run/docker.sock", "/run/containerd/containerd.sock"};
  if (!f.host_run_dir.empty()) paths.push_back(f.host_run_dir);
  if (!f.host_unix_socket.empty()) {
    std::string copy = f.host_unix_socket;
    paths.push_back(dirname(copy.data()));
  }
  for (const auto& path : paths) {
    if (Exists(path)) return Escaped("the host's '" + path + "' is visible");
  }
  return Blocked("none visible: " + Join(paths, ", "));
}

Outcome HostMarker(const std::string& dir, const std::string& marker) {
  if (marker.empty()) return Skipped("needs --host-tmp-marker");
  std::string path = dir + "/" + marker;
  int err = 0;
  if (Exists(path, &err)) return Escaped("the host's '" + path + "' is visible");
  return Blocked(Failed("stat '" + path + "'", err));
}

Outcome HostTmpVisible(const Facts& f) { return HostMarker("/tmp", f.host_tmp_marker); }
Outcome HostShmVisible(const Facts& f) { return HostMarker("/dev/shm", f.host_tmp_marker); }

// Files the driver then looks for on the host: a write that lands there went through the
// overlay or a shared tmpfs. Only the driver can judge, so this is a note.
Outcome PlantHostFiles(const Facts& f) {
  if (f.nonce.empty()) return Skipped("needs --nonce");
  std::vector<std::string> made, refused;
  for (const char* dir : {"/tmp", "/var/tmp", "/dev/shm", "/etc", "/", "/usr/local", "/opt"}) {
    std::string path = std::string(dir) + (dir[1] ? "/" : "") + "moat-escape-" + f.nonce;
    int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
      refused.push_back(path + ": " + ErrName(errno));
      continue;
    }
    (void)!write(fd, "planted by moat-escape-probe\n", 29);
    close(fd);
    made.push_back(path);
  }
  return Note("created inside the wall: [" + Join(made, ", ") + "]; refused: [" +
              Join(refused, ", ") + "]; the driver checks that none reached the host");
}

// moat-init's control socket takes launch requests (any argv, any environment) from host root.
// It is bound where the host's run directory is, in the session's own network namespace, so
// /proc/net/unix names it inside the wall: that path must lead nowhere. Any other socket
// listed there is the session's own.
Outcome OwnControlSocket(const Facts& f) {
  if (f.in_vm) return Blocked("a guest's moat-init listens on no socket: its port is virtio");
  ReadResult r = ReadFile("/proc/net/unix");
  if (!r.ok) return Blocked(ReadFailure("/proc/net/unix", r));
  std::istringstream lines(r.data);
  std::vector<std::string> refused, reached;
  std::string line;
  std::getline(lines, line);  // the header
  while (std::getline(lines, line)) {
    auto slash = line.find(" /");
    if (slash == std::string::npos) continue;  // unnamed or abstract
    std::string path = line.substr(slash + 1);
    // moat-init's: `<run dir>/sessions/<id>/control.sock` on the host. (A VM session's QEMU
    // has its own control.sock in the wall's vm dir: the session's, not moat-init's.)
    bool host_layout =
        path.find("/sessions/") != std::string::npos && path.ends_with("/control.sock");
    bool in_run_dir = !f.host_run_dir.empty() && path.rfind(f.host_run_dir + "/", 0) == 0;
    if (!host_layout && !in_run_dir) continue;
    int err = ConnectUnix(path);
    (err == 0 ? reached : refused).push_back(path + (err == 0 ? "" : ": " + ErrName(err)));
  }
  if (!reached.empty()) return Escaped("connected to " + Join(reached, ", "));
  if (refused.empty()) return Blocked("/proc/net/unix names no control socket here");
  return Blocked("connect " + Join(refused, ", "));
}

constexpr Attack kAttacks[] = {
    {"own-control-socket", OwnControlSocket},
    {"kill-host-sentinel", KillHostSentinel},
    {"ptrace-host-sentinel", PtraceHostSentinel},
    {"host-sentinel-environ", HostSentinelEnviron},
    {"pidfd-host-sentinel", PidfdHostSentinel},
    {"ptrace-init", PtraceInit},
    {"host-unix-socket", HostUnixSocket},
    {"host-abstract-socket", HostAbstractSocket},
    {"host-tcp-loopback", HostTcpLoopback},
    {"host-sysv-shm", HostSysvShm},
    {"other-homes", OtherHomes},
    {"other-home-secret", OtherHomeSecret},
    {"root-home", RootHome},
    {"host-run-visible", HostRunVisible},
    {"host-tmp-visible", HostTmpVisible},
    {"host-shm-visible", HostShmVisible},
    {"plant-host-files", PlantHostFiles},
};

}  // namespace

std::span<const Attack> HostAttacks() { return kAttacks; }

}  // namespace moat::escape
