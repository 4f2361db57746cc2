#include "vm_limits.h"

#include <algorithm>
#include <cmath>

#include "moat/sandbox/guest_limits.h"

namespace moat::agent {

VmLimitSplit SplitSessionLimits(const sandbox::Limits& limits) {
  VmLimitSplit split;
  split.host = limits;
  // On the QEMU group pids_max would cap QEMU's threads, not the guest's processes.
  split.host.pids_max.reset();
  split.guest.pids_max = limits.pids_max;
  return split;
}

Result<sandbox::Limits> ApplicationLimits(const sandbox::Limits& limits) {
  if (sandbox::HasNonGuestLimits(limits)) {
    return Fail(Error(std::make_error_code(std::errc::not_supported),
                      "io and swap limits of one application are not enforced in a VM session: "
                      "set them on the session"));
  }
  return limits;
}

Status CheckVmMemoryFloor(const sandbox::Limits& limits) {
  for (const auto& [name, value] :
       {std::pair{"memory_max", limits.memory_max}, std::pair{"memory_high", limits.memory_high}}) {
    if (value && *value != sandbox::kUnlimited && (*value >> 20) < kVmMemoryFloorMiB) {
      return Fail(InvalidArgument("a VM session needs a " + std::string(name) + " of at least " +
                                  std::to_string(kVmMemoryFloorMiB) +
                                  " MiB (the guest's smallest RAM and QEMU's own)"));
    }
  }
  return {};
}

unsigned VcpusForCap(const sandbox::Limits& limits, unsigned host_cores, unsigned uncapped) {
  unsigned most = std::max(host_cores, 1u);
  if (!limits.cpu_percent || *limits.cpu_percent == sandbox::kNoCpuCap) {
    return std::clamp(uncapped, 1u, most);
  }
  double wanted = std::ceil(*limits.cpu_percent / 100.0);
  if (!(wanted >= 1)) return 1;
  return wanted >= most ? most : static_cast<unsigned>(wanted);
}

uint64_t BalloonTargetBytes(uint64_t guest_ram_bytes, uint64_t memory_max) {
  constexpr uint64_t kMiB = 1ull << 20, kFloor = 64 * kMiB;
  const uint64_t overhead = kQemuOverheadMiB * kMiB;
  uint64_t allowed = memory_max > overhead + kFloor ? memory_max - overhead : kFloor;
  return std::max(std::min(guest_ram_bytes, allowed), std::min(guest_ram_bytes, kFloor));
}

}  // namespace moat::agent
