// The session seccomp policy, compiled to a classic BPF program once and reused for every wall.
// Nothing outside seccomp_policy.cc / seccomp_compile.cc touches libseccomp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "moat/common/error.h"

namespace moat::sandbox {

// A compiled filter: the raw `struct sock_filter` array, ready for
// seccomp(SECCOMP_SET_MODE_FILTER) or bwrap --seccomp.
struct SeccompProgram {
  std::vector<uint8_t> bpf;  // multiple of sizeof(struct sock_filter)
};

// Who runs under a program. Applications get the whole profile. moat-init, the wall's
// supervisor, starts applications right in their cgroup2 groups with clone3 (a cgroup.procs
// write would wait for the kernel's global lock), so its program lets clone3 through, and
// each application adds InstallApplicationFilter's refusal of it before exec.
enum class SeccompAudience { kApplications, kSupervisor };

// Profiles: "default" (Docker-default-or-stricter, EPERM for what it denies).
Result<SeccompProgram> CompileSeccompProfile(
    const std::string& profile, SeccompAudience audience = SeccompAudience::kApplications);

// Same as above but memoised per profile in this process: the agent compiles once.
Result<const SeccompProgram*> CachedSeccompProfile(
    const std::string& profile, SeccompAudience audience = SeccompAudience::kApplications);

// Installs a compiled program on the calling thread (and its future children). Requires
// no_new_privs or CAP_SYS_ADMIN. Async-signal-safe: no allocation.
int InstallSeccompProgram(const uint8_t* bpf, size_t size);

// Stacks on a kSupervisor program what it leaves out for applications: clone3 fails with
// ENOSYS. Same requirements; returns 0 or -errno.
int InstallApplicationFilter();

}  // namespace moat::sandbox
