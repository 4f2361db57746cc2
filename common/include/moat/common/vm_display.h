// A VM desktop's ports (docs/vm.md, "Desktops in a VM"): the agent gives QEMU one virtio-serial
// port per concurrent viewer, all served from the session's one RFB socket, and the broker's
// gateway admits no more watchers than there are ports beside the owner's.
#pragma once

#include <string>

namespace moat {

// Watchers (read-only viewers) a VM desktop takes beside its owner.
inline constexpr int kVmDisplayWatchers = 2;

// The guest's names of the ports: "moat.display" (index 0), then "moat.view0", "moat.view1"...
// All are equal: whichever is free accepts the next connection.
inline std::string VmDisplayPortName(int index) {
  return index == 0 ? std::string("moat.display") : "moat.view" + std::to_string(index - 1);
}

}  // namespace moat
