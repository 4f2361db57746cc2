// moatctl's exit codes, which scripts may rely on (docs/moatctl.md). A failure carries its exit
// code as an std::error_code of the "moatctl" category, so that every layer can return a plain
// moat::Error and main() decides the process status in one place.
#pragma once

#include <string>
#include <system_error>

#include "moat/common/error.h"

namespace moat::ctl {

enum class Exit : int {
  kOk = 0,
  kRefused = 1,      // the broker refused (4xx not listed below), or another failure
  kUsage = 2,        // bad flags or arguments, client-side validation, no CA given
  kAuth = 3,         // not logged in, or the token (or password) was rejected: 401
  kForbidden = 4,    // the role does not allow it: 403
  kNotFound = 5,     // no such session, user, host or process: 404
  kUnreachable = 6,  // cannot connect, TLS failure, timeout, or the broker failed: 5xx
};

const std::error_category& ExitCategory();

inline Error ExitError(Exit exit, std::string message) {
  return Error(std::error_code(static_cast<int>(exit), ExitCategory()), std::move(message));
}
inline tl::unexpected<Error> Fail(Exit exit, std::string message) {
  return tl::unexpected<Error>(ExitError(exit, std::move(message)));
}
inline tl::unexpected<Error> UsageError(std::string message) {
  return Fail(Exit::kUsage, std::move(message));
}

// The process exit status for a failure: its own code if it carries one, otherwise 1.
int ExitStatusOf(const Error& error);
// How an HTTP status the broker answered maps to an exit code (2xx: kOk).
Exit ExitForHttpStatus(int status);

}  // namespace moat::ctl
