// Host side of a VM session's control channel: moat-init's protocol (control_protocol.h) as
// one JSON object per line over the Unix socket QEMU binds to the guest's virtio-serial port
// "moat.control". No fds travel: an application's stdout and stderr stay in a log inside the
// guest (the "log" of the launch reply). Also the line reader QMP uses. See docs/vm.md.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "moat/common/error.h"
#include "moat/common/unique_fd.h"
#include "moat/sandbox/control_protocol.h"

namespace moat::agent::vm {

// A connected SOCK_STREAM Unix socket.
Result<UniqueFd> ConnectUnixStream(const std::string& path);

// Reads the next JSON object line from `fd`, waiting until `deadline`. When `abort_fd` (a
// pidfd, say) becomes readable first, fails with ECHILD.
Result<nlohmann::json> ReadJsonLine(int fd, sandbox::ControlLineReader& reader,
                                    std::chrono::steady_clock::time_point deadline,
                                    int abort_fd = -1);
Status WriteAll(int fd, const std::string& data);

struct VmLaunched {
  pid_t pid = 0;      // inside the guest
  std::string group;  // "app-N"
  std::string log;    // its stdout and stderr, a file inside the guest
};

struct VmExit {
  int code = 0;
  int signal = 0;
  bool oom_killed = false;
};

class VmControl {
 public:
  static Result<VmControl> Connect(const std::string& socket_path);

  // A request and its reply; "exit" events that arrive meanwhile are kept for WaitExit. A reply
  // with "error" is an error. `abort_fd` as in ReadJsonLine.
  Result<nlohmann::json> Call(const nlohmann::json& request, std::chrono::milliseconds timeout,
                              int abort_fd = -1);
  Result<VmLaunched> Launch(const std::vector<std::string>& argv,
                            const std::vector<std::string>& env, const std::string& cwd,
                            std::chrono::milliseconds timeout);
  Result<VmExit> WaitExit(pid_t pid, std::chrono::milliseconds timeout);

  int fd() const { return socket_.get(); }

 private:
  explicit VmControl(UniqueFd socket) : socket_(std::move(socket)) {}
  UniqueFd socket_;
  sandbox::ControlLineReader reader_;
  std::deque<nlohmann::json> events_;
};

// QEMU's QMP, enough for stop, cont, query-status and quit.
class QmpClient {
 public:
  // Connects and leaves capabilities negotiation mode.
  static Result<QmpClient> Connect(const std::string& socket_path,
                                   std::chrono::milliseconds timeout);
  // The "return" of `command`; a QMP "error" is an error.
  Result<nlohmann::json> Execute(const std::string& command, std::chrono::milliseconds timeout,
                                 const nlohmann::json& arguments = nullptr);

 private:
  explicit QmpClient(UniqueFd socket) : socket_(std::move(socket)) {}
  UniqueFd socket_;
  sandbox::ControlLineReader reader_;
};

}  // namespace moat::agent::vm
