// moat-init as a VM guest's PID 1, once its boot (vm_guest_boot.h) has mounted the root and
// the home: the session comes from the kernel command line the host wrote, and the host talks
// over a virtio-serial port. See docs/vm.md.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "../setup_config.h"
#include "moat/common/error.h"

namespace moat::sandbox::init {

struct VmGuestConfig {
  SetupConfig config;         // id, hostname and user; no mounts or cgroups: QEMU is the wall
  std::vector<gid_t> groups;  // the user's supplementary groups, primary first
  std::string seccomp_profile = "default";  // what every application runs under
};

// From `moat.id= moat.user= moat.uid= moat.gid= moat.groups=G,G moat.home= moat.shell=` and
// an optional `moat.seccomp=PROFILE` (the session's profile; "default" when absent).
Result<VmGuestConfig> VmGuestConfigFromCmdline(const std::string& cmdline);

// Narrows the guest's view of the host (vm_guest_root.h), then serves the control protocol on
// `port` until a shutdown and powers the guest off. Every
// application runs as the user with no capabilities, no_new_privs and the session's seccomp
// filter (app_confinement.h).
int RunVmGuest(const std::string& port);

}  // namespace moat::sandbox::init
