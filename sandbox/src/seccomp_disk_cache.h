// Compiling the seccomp policy costs 1-2 ms; a short-lived process (each moat-sandbox run)
// would pay it every time. The compiled program is kept in the root-only run directory, keyed
// by the running binary's identity, so a rebuilt or upgraded binary compiles afresh.
#pragma once

#include <string>

#include "moat/common/error.h"
#include "moat/sandbox/seccomp_policy.h"

namespace moat::sandbox {

Result<SeccompProgram> LoadSeccompProgram(const std::string& cache_dir, const std::string& profile,
                                          SeccompAudience audience);

}  // namespace moat::sandbox
