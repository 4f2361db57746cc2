// Attacks on resource control (issue "Resource control"): the session's cgroup is delegated to
// its user so that moat-init can make application sub-groups. These try to use that to leave
// the session's limits, or to learn where the session sits on the host.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <sstream>
#include <string>

#include "probe.h"

namespace moat::escape {
namespace {

// moat-init holds directory fds of the session's cgroups and the control socket. A session
// process that could open them through /proc/1/fd could create groups or move itself out.
Outcome ProcInitFds(const Facts&) {
  int err = 0;
  auto fds = ListDir("/proc/1/fd", &err);
  if (err != 0) return Blocked(Failed("list '/proc/1/fd'", err));
  for (const auto& fd : fds) {
    std::string path = "/proc/1/fd/" + fd;
    int opened = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (opened >= 0) {
      close(opened);
      return Escaped("opened moat-init's " + path);
    }
  }
  return Blocked("listed /proc/1/fd but could open none of its " + std::to_string(fds.size()) +
                 " fds");
}

// With no cgroup filesystem in the wall, every way to a cgroup.procs file must fail.
Outcome MoveOutOfSessionCgroup(const Facts&) {
  for (const char* path :
       {"/sys/fs/cgroup/cgroup.procs", "/sys/fs/cgroup/pids/cgroup.procs",
        "/sys/fs/cgroup/unified/cgroup.procs", "/proc/1/root/sys/fs/cgroup/cgroup.procs"}) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      std::string pid = std::to_string(getpid());
      bool moved = write(fd, pid.data(), pid.size()) > 0;
      close(fd);
      if (moved) return Escaped(std::string("moved itself through '") + path + "'");
    }
  }
  return Blocked("no cgroup.procs file is reachable from inside the wall");
}

// The session's cgroup namespace is rooted at its own group: host paths (Moat's parent group,
// the session id) must not show.
// Whatever Moat's parent group is called: in a wall every path is the session's root ("/"),
// moat-init's leaf or an application's own group, never a host path.
Outcome CgroupPathLeak(const Facts& f) {
  ReadResult r = ReadFile("/proc/self/cgroup");
  if (!r.ok) return Blocked(ReadFailure("/proc/self/cgroup", r));
  if (r.data.find("/moat/") != std::string::npos || r.data.find("moat-") != std::string::npos) {
    return Escaped("/proc/self/cgroup shows host cgroup paths: " + r.data.substr(0, 200));
  }
  if (!f.in_vm) {  // a guest's own kernel lays out its groups as moat-init does there
    std::istringstream lines(r.data);
    for (std::string line; std::getline(lines, line);) {
      std::string path = line.substr(line.find(':', line.find(':') + 1) + 1);
      bool own = path == "/" || path == "/init" ||
                 (path.rfind("/app-", 0) == 0 &&
                  path.find_first_not_of("0123456789", 5) == std::string::npos && path.size() > 5);
      if (!own) return Escaped("/proc/self/cgroup shows a path outside the session: " + line);
    }
  }
  return Blocked("/proc/self/cgroup shows only paths relative to the session's own group");
}

constexpr Attack kAttacks[] = {
    {"proc-init-fds", ProcInitFds},
    {"cgroup-move-out", MoveOutOfSessionCgroup},
    {"cgroup-path-leak", CgroupPathLeak},
};

}  // namespace

std::span<const Attack> CgroupAttacks() { return kAttacks; }

}  // namespace moat::escape
