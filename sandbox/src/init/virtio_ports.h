// A VM guest's virtio-serial ports by the names QEMU gave them (`name=` of -device
// virtserialport): /sys/class/virtio-ports/vportNpM/name. The guest has no udev, so no
// /dev/virtio-ports/ links.
#pragma once

#include <string>
#include <vector>

#include "moat/common/error.h"

namespace moat::sandbox::init {

struct VirtioPort {
  std::string name;    // "moat.control", "moat.display"...; empty until QEMU named it
  std::string device;  // "/dev/vport0p1"
};

// The ports under `sysfs` (the guest's /sys, or the new root's during boot).
std::vector<VirtioPort> ListVirtioPorts(const std::string& sysfs = "/sys");

// The device of the port named `name`.
Result<std::string> FindVirtioPort(const std::string& name, const std::string& sysfs = "/sys");

}  // namespace moat::sandbox::init
