// moat-init as a VM guest's /init (the initramfs build-guest.sh makes holds it as /init, with
// Debian's kernel also the modules that kernel needs): it builds the session's root, moves
// into it and goes on as the session's moat-init (RunVmGuest, vm_guest.h). The root:
//   /          overlay: the host's / over virtio-9p (tag moat-root, read-only) as the lower, a
//              tmpfs as the upper: writes land in guest memory, never on the host
//   $HOME      the user's home over virtio-9p (tag moat-home), read-write
//   /proc /sys /dev /dev/pts /dev/shm /run /tmp   the guest's own
// Written in C++ rather than as a shell script: under TCG every process a script forks costs
// milliseconds, and the busybox it needed was most of the initramfs QEMU keeps mapped.
#pragma once

#include <string>

namespace moat::sandbox::init {

// Returns the control port's device (/dev/vportNpM) in the new root. A failure prints
// "MOAT-VM-GUEST-FAILED: reason" on the console (the agent quotes the console's tail) and
// powers the guest off: it never returns.
std::string BootVmGuest();

}  // namespace moat::sandbox::init
