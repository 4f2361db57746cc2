#include "resolve_limits.h"

#include "limits_conversion.h"

namespace moat::agent {

Result<sandbox::Limits> ResolveLimits(const wire::SessionLimits& limits) {
  sandbox::Limits out = ToSandboxLimits(limits);
  for (auto& device : out.io_devices) {
    auto resolved = sandbox::ResolveBlockDevice(device.device);
    if (!resolved) {
      return Fail(InvalidArgument("io device '" + device.device +
                                  "' is not a block device here: " + resolved.error().message()));
    }
    device.device = *resolved;
  }
  MOAT_TRY_VOID(sandbox::ValidateLimits(out));
  return out;
}

}  // namespace moat::agent
