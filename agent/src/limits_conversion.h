// wire::SessionLimits ↔ sandbox::Limits: the same keys, one for one, and the same "max"
// sentinels (kUnlimited, kNoCpuCap). Pure: validation and device look-ups stay in the sandbox.
#pragma once

#include "moat/common/wire/messages.h"
#include "moat/sandbox/session_spec.h"

namespace moat::agent {

sandbox::Limits ToSandboxLimits(const wire::SessionLimits& limits);
wire::SessionLimits ToWireLimits(const sandbox::Limits& limits);

}  // namespace moat::agent
