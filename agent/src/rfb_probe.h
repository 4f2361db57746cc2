// Is a desktop's display up? Its Xvnc answers on the RFB Unix socket with the protocol
// greeting, "RFB 003.008\n" (RFC 6143, 7.1.1), before the client says anything.
#pragma once

#include <chrono>
#include <string>

#include "moat/common/error.h"

namespace moat::agent {

inline constexpr char kRfbGreeting[] = "RFB 003.008\n";

// One attempt: connect, read the 12-byte greeting within `timeout`, close. ECONNREFUSED or
// ENOENT while the server starts; EPROTO when something else answers.
Status ProbeRfbGreeting(const std::string& socket_path, std::chrono::milliseconds timeout);

}  // namespace moat::agent
