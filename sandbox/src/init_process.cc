#include "init_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <memory>

#include "clone_into_cgroup.h"
#include "setup_config.h"

namespace moat::sandbox {
namespace {

// What the child needs, prepared by the parent: the child shares the parent's memory until
// its execve and may only make system calls (the agent that calls us is multi-threaded).
struct ChildPlan {
  const char* path;
  const char* const* argv;
  const char* const* envp;
  int sources[3];  // setup socket, seccomp program, /dev/null
  int cgroup_namespace = -1;
};

int ExecInit(void* arg) {
  const auto& plan = *static_cast<const ChildPlan*>(arg);
  // First: its fd may be one of those the dup2s below overwrite.
  if (plan.cgroup_namespace >= 0 && ::setns(plan.cgroup_namespace, CLONE_NEWCGROUP) != 0) {
    ::_exit(126);
  }
  // Move the sources above the targets first so that no dup2 clobbers a later source.
  int moved[3];
  for (int i = 0; i < 3; ++i) {
    moved[i] = ::fcntl(plan.sources[i], F_DUPFD_CLOEXEC, 10);
    if (moved[i] < 0) ::_exit(126);
  }
  if (::dup2(moved[0], kSetupSocketFd) < 0 || ::dup2(moved[1], kSeccompProgramFd) < 0) {
    ::_exit(126);
  }
  for (int fd = 0; fd < 3; ++fd) {
    if (::dup2(moved[2], fd) < 0) ::_exit(126);
  }
  // Signals stay blocked (see StartInitProcess) until moat-init's main unblocks them.
  // A session of its own: no controlling terminal of the host's, and no SIGHUP or SIGINT
  // when the terminal that started a detached session closes.
  if (::setsid() < 0) ::_exit(126);
  // Only fds 0-4 may enter the wall: whatever the caller (a daemon with sockets of its own)
  // forgot to mark close-on-exec is closed here.
  if (::syscall(SYS_close_range, kSeccompProgramFd + 1, ~0U, 0) != 0) ::_exit(126);
  ::execve(plan.path, const_cast<char* const*>(plan.argv), const_cast<char* const*>(plan.envp));
  ::_exit(127);
}

}  // namespace

Result<InitProcess> StartInitProcess(const std::string& init_path, int seccomp_fd, int cgroup_fd,
                                     int cgroup_namespace_fd) {
  if (::access(init_path.c_str(), X_OK) != 0) return FailErrno("find moat-init", init_path);
  if (cgroup_namespace_fd >= 0 && cgroup_fd < 0) {
    return Fail(InvalidArgument("a cgroup namespace for moat-init needs the group to start in"));
  }
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return FailErrno("socketpair", "setup socket");
  }
  UniqueFd ours(pair[0]), theirs(pair[1]);
  UniqueFd dev_null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!dev_null) return FailErrno("open", "/dev/null");

  // Named "moat-init" whatever its path: the session reads PID 1's command line, and the
  // host's paths are none of its business.
  const char* argv[] = {"moat-init", nullptr};
  const char* envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", nullptr};
  ChildPlan plan{init_path.c_str(),
                 argv,
                 envp,
                 {theirs.get(), seccomp_fd, dev_null.get()},
                 cgroup_namespace_fd};
  // CLONE_VM | CLONE_VFORK, as posix_spawn does: the child borrows our memory until its
  // execve instead of copying our page tables only to drop them again. In a large caller
  // (the agent, the library benchmark) that copy cost more than the rest of the child's work.
  constexpr size_t kChildStackBytes = 64 * 1024;
  std::unique_ptr<char[]> stack(new char[kChildStackBytes]);
  constexpr int kFlags = CLONE_VM | CLONE_VFORK | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS |
                         CLONE_NEWIPC | CLONE_NEWNET | CLONE_PIDFD;
  int pidfd = -1;
  CloneResult child;
  bool born_in_cgroup = cgroup_fd >= 0;
  {
    // Until its execve the child shares our memory; signals stay blocked in it until
    // moat-init's main unblocks them.
    AllSignalsBlocked blocked;
    if (born_in_cgroup) {
      child =
          CloneOnStack(kFlags, cgroup_fd, stack.get(), kChildStackBytes, ExecInit, &plan, &pidfd);
      born_in_cgroup = child.pid > 0;
    }
    if (!born_in_cgroup && cgroup_namespace_fd < 0) {
      child.pid =
          ::clone(ExecInit, stack.get() + kChildStackBytes, kFlags | SIGCHLD, &plan, &pidfd);
      child.error = errno;
    }
  }
  if (child.pid < 0) {
    return FailErrno(cgroup_namespace_fd < 0 ? "clone" : "clone3", "session namespaces",
                     child.error);
  }
  InitProcess process;
  process.pid = child.pid;
  process.born_in_cgroup = born_in_cgroup;
  process.pidfd = UniqueFd(pidfd);
  process.setup_socket = std::move(ours);
  return process;
}

bool WaitForExit(int pidfd, int timeout_ms) { return WaitForReadable(pidfd, timeout_ms); }

bool WaitForReadable(int fd, int timeout_ms) {
  struct pollfd poll_fd = {fd, POLLIN, 0};
  for (;;) {
    int rc = ::poll(&poll_fd, 1, timeout_ms);
    if (rc < 0 && errno == EINTR) continue;
    return rc > 0;
  }
}

}  // namespace moat::sandbox
