// A VM guest's session, as the host wrote it on the kernel command line (vm_wall.cc).
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
  // The virtio-serial ports with a name the guest must see before it serves: the control port
  // and a desktop's display ports (moat.ports=; 1 when absent).
  unsigned named_ports = 1;
};

// From `moat.id= moat.user= moat.uid= moat.gid= moat.groups=G,G moat.home= moat.shell=` and
// the optional `moat.seccomp=PROFILE` (the session's profile; "default" when absent) and
// `moat.ports=N`.
Result<VmGuestConfig> VmGuestConfigFromCmdline(const std::string& cmdline);

}  // namespace moat::sandbox::init
