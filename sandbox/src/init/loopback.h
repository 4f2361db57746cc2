#pragma once

#include "moat/common/error.h"

namespace moat::sandbox::init {

// The session's network namespace starts with 'lo' down; bring it up, and nothing else.
Status BringUpLoopback();

}  // namespace moat::sandbox::init
