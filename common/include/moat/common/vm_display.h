// A VM session's named virtio-serial ports: the control port, and a desktop's ports (docs/vm.md,
// "Desktops in a VM"): the agent gives QEMU one port per concurrent viewer, all served from the
// session's one RFB socket, and the broker's gateway admits no more watchers than there are
// ports beside the owner's. The agent names them, the guest looks for these names.
#pragma once

#include <string>

namespace moat {

// moat-init's control protocol.
inline constexpr const char* kVmControlPortName = "moat.control";

// Watchers (read-only viewers) a VM desktop takes beside its owner.
inline constexpr int kVmDisplayWatchers = 2;

// The guest's names of the ports: "moat.display" (index 0), then "moat.view0", "moat.view1"...
// All are equal: whichever is free accepts the next connection.
inline std::string VmDisplayPortName(int index) {
  return index == 0 ? std::string("moat.display") : "moat.view" + std::to_string(index - 1);
}

inline bool IsVmDisplayPortName(const std::string& name) {
  for (int index = 0; index <= kVmDisplayWatchers; ++index) {
    if (name == VmDisplayPortName(index)) return true;
  }
  return false;
}

// The named ports of a VM: the control port, and with a desktop its display ports.
inline int VmNamedPorts(bool display) { return 1 + (display ? 1 + kVmDisplayWatchers : 0); }

}  // namespace moat
