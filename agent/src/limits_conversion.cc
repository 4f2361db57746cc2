#include "limits_conversion.h"

namespace moat::agent {

// Both sides spell "no limit" the same way; the conversion relies on it.
static_assert(wire::kUnlimited == sandbox::kUnlimited);

namespace {

// The wire and sandbox structs carry the same fields under the same names: one copy serves
// both directions.
template <typename To, typename From>
To CopyLimits(const From& limits) {
  To out;
  out.cpu_percent = limits.cpu_percent;
  out.cpu_weight = limits.cpu_weight;
  out.memory_max = limits.memory_max;
  out.memory_high = limits.memory_high;
  out.swap_max = limits.swap_max;
  out.pids_max = limits.pids_max;
  out.io_weight = limits.io_weight;
  for (const auto& device : limits.io_devices) {
    out.io_devices.push_back(
        {device.device, device.read_bps, device.write_bps, device.read_iops, device.write_iops});
  }
  return out;
}

}  // namespace

sandbox::Limits ToSandboxLimits(const wire::SessionLimits& limits) {
  return CopyLimits<sandbox::Limits>(limits);
}

wire::SessionLimits ToWireLimits(const sandbox::Limits& limits) {
  return CopyLimits<wire::SessionLimits>(limits);
}

}  // namespace moat::agent
