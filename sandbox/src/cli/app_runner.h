// Runs one application in a session from the terminal: with the caller's stdio, or through a
// pseudo-terminal inside the wall when the caller has one (a host tty never enters the wall).
#pragma once

#include <string>
#include <vector>

#include "moat/common/error.h"
#include "moat/sandbox/control_client.h"

namespace moat::sandbox::cli {

struct RunRequest {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd;
  bool tty = false;
};

// True when stdin and stdout are terminals: the default for `tty`.
bool StdioIsTerminal();

// Launches and waits; forwards SIGINT, SIGTERM and SIGHUP to the application.
Result<ExitStatus> RunApplication(const std::string& control_socket, const RunRequest& request);

// Exit status for a launch error: 127 not found, 126 cannot execute, 125 anything else.
int LaunchErrorCode(const Error& error);

}  // namespace moat::sandbox::cli
