// Host side of a session's control socket: launch applications, signal them, end the session.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "moat/common/error.h"
#include "moat/common/unique_fd.h"
#include "moat/sandbox/control_protocol.h"

namespace moat::sandbox {

struct LaunchRequest {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "K=V", added to the session's own environment
  std::string cwd;               // empty: the user's home
  // Allocate a pseudo-terminal inside the wall; its master comes back to the caller.
  bool tty = false;
  std::string term;  // TERM for a tty, e.g. "xterm-256color"
  uint16_t rows = 0, cols = 0;
  // No transparent huge pages (PR_SET_THP_DISABLE, kept across exec): for QEMU, which asks for
  // them on all guest RAM, so that a small guest's scattered pages do not each pin 2 MiB.
  bool no_huge_pages = false;
};

struct Launched {
  pid_t pid = 0;        // inside the session's pid namespace
  std::string group;    // its cgroup inside the session, "app-N"
  UniqueFd pty_master;  // when tty was asked for
};

// How an application ended: exit code, or the signal that killed it. 126/127 for exec errors.
struct ExitStatus {
  int code = 0;
  int signal = 0;
  std::string error;        // why exec failed, when it did
  bool oom_killed = false;  // its group hit the memory limit and the kernel killed in it
  int ShellCode() const { return signal ? 128 + signal : code; }
};

class ControlClient {
 public:
  static Result<ControlClient> Connect(const std::string& socket_path);

  // Starts an application. Its stdio are the given fds (ignored with tty). The connection then
  // belongs to that application: WaitExit() returns when it ends.
  Result<Launched> Launch(const LaunchRequest& request, int stdin_fd, int stdout_fd, int stderr_fd);
  Result<ExitStatus> WaitExit();
  Status Signal(pid_t pid, int signal);
  // Asks moat-init to end the session: SIGTERM to all, SIGKILL after `grace`, then exit.
  Status Shutdown(std::chrono::milliseconds grace);
  Result<nlohmann::json> Call(const nlohmann::json& request);

  // Bounds every later send and receive: a frozen or wedged moat-init cannot hang the caller.
  Status SetTimeout(std::chrono::milliseconds timeout);

  int fd() const { return socket_.get(); }

 private:
  explicit ControlClient(UniqueFd socket) : socket_(std::move(socket)) {}
  UniqueFd socket_;
};

}  // namespace moat::sandbox
