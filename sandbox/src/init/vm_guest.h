// moat-init as a VM guest's PID 1 (`moat-init --vm PORT`): the guest's /init (agent/vm/
// guest-init.sh) has mounted the root and the home; the session comes from the kernel command
// line the host wrote, and the host talks over the virtio-serial PORT. See docs/vm.md.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "../setup_config.h"
#include "moat/common/error.h"

namespace moat::sandbox::init {

struct VmGuestConfig {
  SetupConfig config;  // id, hostname and user; no mounts, cgroups or seccomp: QEMU is the wall
  std::vector<gid_t> groups;  // the user's supplementary groups, primary first
};

// From `moat.id= moat.user= moat.uid= moat.gid= moat.groups=G,G moat.home= moat.shell=`.
Result<VmGuestConfig> VmGuestConfigFromCmdline(const std::string& cmdline);

// Serves the control protocol on `port` until a shutdown, then powers the guest off.
int RunVmGuest(const std::string& port);

}  // namespace moat::sandbox::init
