// Assembles the session's root inside its own mount namespace, from the initial user namespace
// (an overlay with lowerdir=/ is refused inside a new user namespace: '/' has locked
// submounts), then pivots into it. Nothing is ever mounted in the host's namespace.
#pragma once

#include "../setup_config.h"
#include "moat/common/error.h"

namespace moat::sandbox::init {

// Everything up to, not including, the pivot.
Status BuildRoot(const SetupConfig& config);
// pivot_root into the assembled root and detach the old one.
Status PivotIntoRoot(const SetupConfig& config);

}  // namespace moat::sandbox::init
