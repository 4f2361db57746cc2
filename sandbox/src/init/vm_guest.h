// moat-init as a VM guest's PID 1, once its boot (vm_guest_boot.h) has mounted the root and
// the home: the session comes from the kernel command line the host wrote, and the host talks
// over a virtio-serial port. See docs/vm.md.
#pragma once

#include <string>

#include "vm_guest_config.h"

namespace moat::sandbox::init {

// Prints "MOAT-VM-GUEST-FAILED: why" on the console (the agent quotes the console's tail)
// and powers the guest off.
[[noreturn]] void FailVmGuest(const std::string& why);

// Narrows the guest's view of the host (vm_guest_root.h), then serves the control protocol on
// `port` until a shutdown and powers the guest off. Every
// application runs as the user with no capabilities, no_new_privs and the session's seccomp
// filter (app_confinement.h).
int RunVmGuest(const std::string& port);

}  // namespace moat::sandbox::init
