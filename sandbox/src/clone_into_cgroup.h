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

// The result of a clone attempt: a pid, or the errno that stopped it.
struct CloneResult {
  pid_t pid = -1;
  int error = 0;
  // clone3 or CLONE_INTO_CGROUP is missing here (kernel before 5.7, a seccomp filter, another
  // architecture): the caller starts the process the old way.
  bool Unsupported() const;
};

// As fork(), but the child starts in the cgroup2 group open at `cgroup_fd`. Only for a
// single-threaded caller whose child only execs: glibc's fork handlers are not run.
CloneResult ForkIntoCgroup(int cgroup_fd);

// clone3 with `flags` (CLONE_VM and CLONE_VFORK included, as glibc's clone is used for
// posix_spawn), the child running fn(arg) on `stack` and exiting with its result. With
// `cgroup_fd` >= 0 the child is born in that cgroup2 group. `pidfd` receives CLONE_PIDFD's fd.
CloneResult CloneOnStack(uint64_t flags, int cgroup_fd, char* stack, size_t stack_size,
                         int (*fn)(void*), void* arg, int* pidfd);

}  // namespace moat::sandbox
