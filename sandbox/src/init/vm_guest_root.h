// A VM guest's view of the host's root, narrowed as a sandbox's is (root_fs.cc) before any
// application starts: other users' homes, root's home and the host's secrets are hidden. The
// 9p export shows the host with QEMU's rights, which are the user's, so this hides what the
// user could read on the host but a session must not: other homes are world-readable more
// often than not. The application, with no capabilities, cannot unmount the masks. The host's
// /var/tmp stays visible, read-only (tests/vm writes through it to prove the overlay); a
// sandbox replaces it.
#pragma once

#include <string>

#include "moat/common/error.h"

namespace moat::sandbox::init {

// `home` is the user's home, the read-write 9p mount vm_guest_boot.cc made; it stays.
Status NarrowGuestRoot(const std::string& home);

}  // namespace moat::sandbox::init
