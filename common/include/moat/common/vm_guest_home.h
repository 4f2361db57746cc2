// Where a VM guest can mount the user's home: the agent refuses to start a VM for any other home
// (vm_wall.cc), and the guest checks the path it is given again (vm_guest_config.cc).
#pragma once

#include <string_view>

#include "moat/common/text.h"

namespace moat {

// Absolute, not "/" (the read-write home export would cover the guest's read-only root), and
// no "." or ".." component (it would land elsewhere, the initramfs included).
inline bool IsVmGuestHome(std::string_view home) {
  if (home.size() < 2 || home.front() != '/') return false;
  for (auto part : text::Split(home, '/')) {
    if (part == "." || part == "..") return false;
  }
  return true;
}

}  // namespace moat
