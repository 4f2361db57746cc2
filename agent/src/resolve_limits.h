// Limits from the broker made ready for the host: converted, devices named by path ("/dev/vda")
// resolved to the "MAJ:MIN" the cgroup files take, and validated. Shared by both backends.
#pragma once

#include "moat/common/error.h"
#include "moat/common/wire/messages.h"
#include "moat/sandbox/session_spec.h"

namespace moat::agent {

Result<sandbox::Limits> ResolveLimits(const wire::SessionLimits& limits);

}  // namespace moat::agent
