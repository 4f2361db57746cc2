// Starting a process directly inside a cgroup2 group (clone3's CLONE_INTO_CGROUP), instead of
// starting it elsewhere and writing its pid to cgroup.procs.
//
// Why: every write to a cgroup.procs file takes the kernel's global threadgroup lock for
// writing, and after a few idle milliseconds that waits for a full RCU grace period: 12-16 ms
// on our machines, once per wall or application started after a pause (docs/performance.md).
// A process born in its group takes that lock only for reading. (On v1, the same is had by a
// single-threaded process writing "0" to its group's `tasks` file.)
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace moat::sandbox {

// The result of a clone attempt: a pid, or the errno that stopped it. Callers fall back to
// clone()/fork() and a cgroup.procs write on any failure: clone3 can be missing (before 5.7,
// another architecture), refused by a container's seccomp profile (ENOSYS or EPERM), or refuse
// a group that cgroup.procs would take. The old way then reports the error that matters.
struct CloneResult {
  pid_t pid = -1;
  int error = 0;
};

// As fork(), but the child starts in the cgroup2 group open at `cgroup_fd`. Only for a
// single-threaded caller whose child only execs: none of glibc's fork work is done (no fork
// handlers, the child's cached thread id is its parent's).
CloneResult ForkIntoCgroup(int cgroup_fd);

// Every signal blocked while alive, as posix_spawn does around its clone: a child made with
// CLONE_VM shares our memory, and one of our handlers run there would act on it as if it were
// us. The raw call, because glibc's sigfillset leaves out the two signals it uses internally
// (thread cancellation and setxid), which posix_spawn blocks too. The child starts with every
// signal blocked.
class AllSignalsBlocked {
 public:
  AllSignalsBlocked();
  ~AllSignalsBlocked();
  AllSignalsBlocked(const AllSignalsBlocked&) = delete;
  AllSignalsBlocked& operator=(const AllSignalsBlocked&) = delete;

 private:
  uint64_t before_ = 0;
};

// clone3 with `flags` (no exit signal: the child's is SIGCHLD), the child running fn(arg) on
// `stack` and exiting with its result, as glibc's clone() does; meant for CLONE_VM |
// CLONE_VFORK, posix_spawn's way. With `cgroup_fd` >= 0 the child is born in that cgroup2 group.
// `pidfd` receives CLONE_PIDFD's fd. ENOSYS on other architectures than x86-64.
CloneResult CloneOnStack(uint64_t flags, int cgroup_fd, char* stack, size_t stack_size,
                         int (*fn)(void*), void* arg, int* pidfd);

}  // namespace moat::sandbox
