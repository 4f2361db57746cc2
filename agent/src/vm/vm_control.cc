#include "vm_control.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "moat/common/unix_connect.h"

namespace moat::agent::vm {

using Clock = std::chrono::steady_clock;

Result<UniqueFd> ConnectUnixStream(const std::string& path) { return ConnectUnixNoFollow(path); }

Status WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("send", "VM socket");
    done += static_cast<size_t>(n);
  }
  return {};
}

Result<nlohmann::json> ReadJsonLine(int fd, sandbox::ControlLineReader& reader,
                                    Clock::time_point deadline, int abort_fd) {
  for (;;) {
    MOAT_TRY(auto body, reader.Next());
    if (body) return std::move(*body);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return Fail(Error(std::make_error_code(std::errc::timed_out), "no answer in time"));
    }
    struct pollfd fds[2] = {{fd, POLLIN, 0}, {abort_fd, POLLIN, 0}};
    int n = ::poll(fds, abort_fd >= 0 ? 2 : 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("poll", "VM socket");
    if (abort_fd >= 0 && (fds[1].revents & POLLIN)) {
      return Fail(Error(std::make_error_code(std::errc::no_child_process), "QEMU exited"));
    }
    if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    char chunk[4096];
    ssize_t got = ::recv(fd, chunk, sizeof(chunk), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return FailErrno("recv", "VM socket");
    if (got == 0) {
      return Fail(
          Error(std::make_error_code(std::errc::connection_reset), "VM socket closed by the peer"));
    }
    reader.Append(chunk, static_cast<size_t>(got));
  }
}

Result<VmControl> VmControl::Connect(const std::string& socket_path) {
  MOAT_TRY(auto fd, ConnectUnixStream(socket_path));
  return VmControl(std::move(fd));
}

Result<nlohmann::json> VmControl::Call(const nlohmann::json& request,
                                       std::chrono::milliseconds timeout, int abort_fd) {
  MOAT_TRY(auto line, sandbox::EncodeControlLine(request));
  MOAT_TRY_VOID(WriteAll(socket_.get(), line));
  auto deadline = Clock::now() + timeout;
  for (;;) {
    MOAT_TRY(auto reply, ReadJsonLine(socket_.get(), reader_, deadline, abort_fd));
    if (reply.contains("event")) {
      events_.push_back(std::move(reply));
      continue;
    }
    if (reply.contains("error")) {
      int err = reply.value("errno", EPERM);
      return Fail(Error(std::error_code(err, std::generic_category()),
                        "moat-init: " + reply.value("error", std::string("failed"))));
    }
    return reply;
  }
}

Result<VmLaunched> VmControl::Launch(const std::vector<std::string>& argv,
                                     const std::vector<std::string>& env, const std::string& cwd,
                                     std::chrono::milliseconds timeout) {
  MOAT_TRY(auto reply,
           Call({{"op", "launch"}, {"argv", argv}, {"env", env}, {"cwd", cwd}, {"tty", false}},
                timeout));
  VmLaunched out;
  out.pid = reply.value("pid", 0);
  out.group = reply.value("group", std::string());
  out.log = reply.value("log", std::string());
  return out;
}

Result<VmExit> VmControl::WaitExit(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    for (auto it = events_.begin(); it != events_.end(); ++it) {
      if (it->value("event", std::string()) == "exit" && it->value("pid", 0) == pid) {
        VmExit out;
        out.code = it->value("code", 0);
        out.signal = it->value("signal", 0);
        out.oom_killed = it->value("oom_killed", false);
        events_.erase(it);
        return out;
      }
    }
    MOAT_TRY(auto message, ReadJsonLine(socket_.get(), reader_, deadline));
    if (message.contains("event")) events_.push_back(std::move(message));
  }
}

Result<QmpClient> QmpClient::Connect(const std::string& socket_path,
                                     std::chrono::milliseconds timeout) {
  MOAT_TRY(auto fd, ConnectUnixStream(socket_path));
  QmpClient client(std::move(fd));
  auto deadline = Clock::now() + timeout;
  MOAT_TRY(auto greeting, ReadJsonLine(client.socket_.get(), client.reader_, deadline));
  if (!greeting.contains("QMP")) return Fail(InvalidArgument("QMP: no greeting"));
  MOAT_TRY_VOID(client.Execute("qmp_capabilities", timeout));
  return client;
}

Result<nlohmann::json> QmpClient::Execute(const std::string& command,
                                          std::chrono::milliseconds timeout,
                                          const nlohmann::json& arguments) {
  nlohmann::json request = {{"execute", command}};
  if (!arguments.is_null()) request["arguments"] = arguments;
  MOAT_TRY_VOID(WriteAll(socket_.get(), request.dump() + "\n"));
  auto deadline = Clock::now() + timeout;
  for (;;) {
    MOAT_TRY(auto reply, ReadJsonLine(socket_.get(), reader_, deadline));
    if (reply.contains("event")) continue;
    if (reply.contains("error")) {
      return Fail(InvalidArgument("QMP " + command + ": " +
                                  reply["error"].value("desc", std::string("failed"))));
    }
    if (reply.contains("return")) return reply["return"];
  }
}

}  // namespace moat::agent::vm
