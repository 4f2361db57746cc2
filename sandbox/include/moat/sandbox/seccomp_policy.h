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

// Profiles: "default" (Docker-default-or-stricter, EPERM for what it denies).
Result<SeccompProgram> CompileSeccompProfile(const std::string& profile);

// Same as above but memoised per profile in this process: the agent compiles once.
Result<const SeccompProgram*> CachedSeccompProfile(const std::string& profile);

// Installs a compiled program on the calling thread (and its future children). Requires
// no_new_privs or CAP_SYS_ADMIN. Async-signal-safe: no allocation.
int InstallSeccompProgram(const uint8_t* bpf, size_t size);

}  // namespace moat::sandbox
