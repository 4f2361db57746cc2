// Host files no session may read, whatever their modes: password hashes, host keys and Moat's
// own configuration and state. A sandbox masks them in its root (root_fs.cc), a VM guest's
// moat-init in the guest's view of the host's root (vm_guest_root.cc).
#pragma once

namespace moat::sandbox::init {

inline constexpr const char* kHostSecretPaths[] = {"/etc/shadow",
                                                   "/etc/gshadow",
                                                   "/etc/shadow-",
                                                   "/etc/gshadow-",
                                                   "/etc/moat",
                                                   "/var/lib/moat",
                                                   "/etc/ssh/ssh_host_rsa_key",
                                                   "/etc/ssh/ssh_host_ecdsa_key",
                                                   "/etc/ssh/ssh_host_ed25519_key"};

}  // namespace moat::sandbox::init
