// Starting moat-init in fresh namespaces: the one piece of code between clone and execve.
#pragma once

#include <sys/types.h>

#include <string>

#include "moat/common/error.h"
#include "moat/common/unique_fd.h"

namespace moat::sandbox {

struct InitProcess {
  pid_t pid = 0;
  UniqueFd pidfd;
  UniqueFd setup_socket;  // our end; moat-init has the other on fd 3
  // Started inside the cgroup2 group given to StartInitProcess (clone_into_cgroup.h).
  bool born_in_cgroup = false;
};

// clone() into new mount, pid, uts, ipc and net namespaces and exec moat-init with the setup
// socket on fd 3, the seccomp program on fd 4 and /dev/null as stdio. The user namespace
// comes later, from moat-init itself, once its mounts are built; so does the cgroup one,
// unless given. With `cgroup_fd` >= 0 (a cgroup2 group's directory) moat-init starts in that
// group where the kernel can. With `cgroup_namespace_fd` >= 0 (cgroup_namespace.h; needs
// `cgroup_fd`) it also starts in that cgroup namespace, and must be born in the group: it could
// not enter it by cgroup.procs from outside the namespace's root.
Result<InitProcess> StartInitProcess(const std::string& init_path, int seccomp_fd,
                                     int cgroup_fd = -1, int cgroup_namespace_fd = -1);

// Waits up to `timeout_ms` for the process behind `pidfd` to exit. True when it did.
bool WaitForExit(int pidfd, int timeout_ms);
// Waits up to `timeout_ms` for `fd` to become readable (or hung up). True when it did.
bool WaitForReadable(int fd, int timeout_ms);

}  // namespace moat::sandbox
