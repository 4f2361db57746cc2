#include "cgroup_namespace.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>

#include "clone_into_cgroup.h"

namespace moat::sandbox {
namespace {

// Runs in the helper, which shares our memory and fd table until it exits: system calls only.
// `arg` is where the namespace's fd goes.
int CreateNamespace(void* arg) {
  if (::unshare(CLONE_NEWCGROUP) != 0) return errno;
  int fd = ::open("/proc/thread-self/ns/cgroup", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  *static_cast<int*>(arg) = fd;
  return 0;
}

}  // namespace

Result<UniqueFd> MakeCgroupNamespaceIn(int cgroup_fd, const std::string& group_path) {
  int made_fd = -1;
  constexpr size_t kStackBytes = 16 * 1024;
  auto stack = std::make_unique<char[]>(kStackBytes);
  CloneResult child;
  {
    AllSignalsBlocked blocked;
    child = CloneOnStack(CLONE_VM | CLONE_VFORK | CLONE_FILES, cgroup_fd, stack.get(), kStackBytes,
                         CreateNamespace, &made_fd, nullptr);
  }
  if (child.pid < 0) return FailErrno("clone3", "namespace helper in " + group_path, child.error);
  UniqueFd namespace_fd(made_fd);
  // Reaped, not only gone from vfork: until it has fully exited it is a process of the group,
  // which then may not hand controllers down. ECHILD: a caller ignoring SIGCHLD reaped it.
  int status = 0;
  pid_t reaped;
  do {
    reaped = ::waitpid(child.pid, &status, 0);
  } while (reaped < 0 && errno == EINTR);
  if (reaped < 0 && errno != ECHILD) return FailErrno("waitpid", "namespace helper");
  if (!namespace_fd) {
    int err =
        reaped > 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : ECHILD;
    return FailErrno("unshare or open", "CLONE_NEWCGROUP in " + group_path, err);
  }
  return namespace_fd;
}

}  // namespace moat::sandbox
