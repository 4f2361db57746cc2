// How a VM guest's moat-init, which stays root in the guest, confines each application it
// starts: the session's user, an empty capability set, no_new_privs and the session's seccomp
// filter, which is what a sandbox's applications inherit from their moat-init (setup.cc).
// QEMU is the VM's wall; this is the defence in depth behind it: a user who became root in the
// guest kernel would reach the 9p exports with all of QEMU's rights on the host, the guest's
// devices (the control port) and a kernel that is not meant to be an attack surface.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <vector>

namespace moat::sandbox::init {

struct AppConfinement {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;         // supplementary groups, primary first
  std::span<const uint8_t> seccomp;  // the compiled program; never empty
};

// In the forked child, right before exec, as root. Async-signal-safe. Returns 0 or the errno
// of the step that failed.
int ConfineApplication(const AppConfinement& confinement);

}  // namespace moat::sandbox::init
