// Passwords for login and users add/passwd: the first line of stdin with --password-stdin, or
// typed at the terminal without echo. Never from a flag: the process list would show it.
#pragma once

#include <string>
#include <string_view>

#include "moat/common/error.h"

namespace moat::ctl {

// `confirm`: ask twice at a terminal (setting a password), fail if the two differ.
Result<std::string> ReadPassword(bool from_stdin, std::string_view prompt, bool confirm);

}  // namespace moat::ctl
