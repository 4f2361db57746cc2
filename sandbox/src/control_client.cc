#include "moat/sandbox/control_client.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include "moat/common/unix_connect.h"

namespace moat::sandbox {

Result<ControlClient> ControlClient::Connect(const std::string& socket_path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) return FailErrno("socket", "AF_UNIX");
  MOAT_TRY(auto addr, UnixAddress(socket_path));
  if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    return FailErrno("connect", socket_path);
  }
  return ControlClient(std::move(fd));
}

Status ControlClient::SetTimeout(std::chrono::milliseconds timeout) {
  struct timeval tv = {static_cast<time_t>(timeout.count() / 1000),
                       static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  for (int option : {SO_RCVTIMEO, SO_SNDTIMEO}) {
    if (::setsockopt(socket_.get(), SOL_SOCKET, option, &tv, sizeof(tv)) != 0) {
      return FailErrno("setsockopt", "control socket timeout");
    }
  }
  return {};
}

Result<nlohmann::json> ControlClient::Call(const nlohmann::json& request) {
  MOAT_TRY_VOID(SendControlMessage(socket_.get(), request));
  MOAT_TRY(auto reply, ReceiveControlMessage(socket_.get()));
  if (reply.body.contains("error")) {
    return Fail(Error(std::make_error_code(std::errc::operation_not_permitted),
                      "moat-init: " + reply.body.value("error", std::string("failed"))));
  }
  return std::move(reply.body);
}

Result<Launched> ControlClient::Launch(const LaunchRequest& request, int stdin_fd, int stdout_fd,
                                       int stderr_fd) {
  nlohmann::json body = {
      {"op", "launch"},       {"argv", request.argv}, {"env", request.env},
      {"cwd", request.cwd},   {"tty", request.tty},   {"term", request.term},
      {"rows", request.rows}, {"cols", request.cols}, {"no_huge_pages", request.no_huge_pages}};
  std::vector<int> fds;
  if (!request.tty) fds = {stdin_fd, stdout_fd, stderr_fd};
  MOAT_TRY_VOID(SendControlMessage(socket_.get(), body, fds));
  MOAT_TRY(auto reply, ReceiveControlMessage(socket_.get()));
  if (reply.body.contains("error")) {
    int err = reply.body.value("errno", EINVAL);
    return Fail(Error(std::error_code(err, std::generic_category()),
                      reply.body.value("error", std::string("launch failed"))));
  }
  Launched launched;
  launched.pid = reply.body.value("pid", 0);
  launched.group = reply.body.value("group", std::string());
  if (request.tty) {
    if (reply.fds.empty()) return Fail(InvalidArgument("moat-init sent no pty master"));
    launched.pty_master = std::move(reply.fds.front());
  }
  return launched;
}

Result<ExitStatus> ControlClient::WaitExit() {
  for (;;) {
    MOAT_TRY(auto message, ReceiveControlMessage(socket_.get()));
    if (message.body.value("event", std::string()) != "exit") continue;
    ExitStatus status;
    status.code = message.body.value("code", 0);
    status.signal = message.body.value("signal", 0);
    status.error = message.body.value("exec_error", std::string());
    status.oom_killed = message.body.value("oom_killed", false);
    return status;
  }
}

Status ControlClient::Signal(pid_t pid, int signal) {
  MOAT_TRY_VOID(Call({{"op", "signal"}, {"pid", pid}, {"signal", signal}}));
  return {};
}

Status ControlClient::Shutdown(std::chrono::milliseconds grace) {
  MOAT_TRY_VOID(Call({{"op", "shutdown"}, {"grace_ms", grace.count()}}));
  return {};
}

}  // namespace moat::sandbox
