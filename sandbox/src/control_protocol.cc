#include "moat/sandbox/control_protocol.h"

#include <sys/socket.h>

#include <cstring>
#include <memory>

namespace moat::sandbox {

Status SendControlMessage(int socket_fd, const nlohmann::json& body, const std::vector<int>& fds) {
  std::string text = body.dump();
  if (text.size() > kMaxControlMessage) {
    return Fail(InvalidArgument("control message of " + std::to_string(text.size()) +
                                " bytes is over the limit"));
  }
  if (fds.size() > kMaxControlFds) return Fail(InvalidArgument("too many fds in control message"));
  struct iovec iov = {text.data(), text.size()};
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxControlFds)] = {};
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    if (::sendmsg(socket_fd, &msg, MSG_NOSIGNAL) >= 0) return {};
    if (errno != EINTR) return FailErrno("sendmsg", "control socket");
  }
}

Result<ControlMessage> ReceiveControlMessage(int socket_fd) {
  // Not zero-filled: only the bytes received are ever touched, so an idle moat-init does not
  // carry 64 KiB of dirty pages for its largest possible message.
  std::unique_ptr<char[]> buffer(new char[kMaxControlMessage]);
  struct iovec iov = {buffer.get(), kMaxControlMessage};
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxControlFds)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = ::recvmsg(socket_fd, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return FailErrno("recvmsg", "control socket");
  ControlMessage out;
  for (struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr;
       cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
      size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
        out.fds.emplace_back(fd);
      }
    }
  }
  if (n == 0) {
    return Fail(Error(std::make_error_code(std::errc::connection_reset),
                      "control socket closed by the peer"));
  }
  if (msg.msg_flags & MSG_TRUNC) return Fail(InvalidArgument("control message truncated"));
  try {
    out.body = nlohmann::json::parse(buffer.get(), buffer.get() + n);
  } catch (const nlohmann::json::exception& e) {
    return Fail(InvalidArgument(std::string("control message is not JSON: ") + e.what()));
  }
  if (!out.body.is_object()) return Fail(InvalidArgument("control message is not an object"));
  return out;
}

Result<std::string> EncodeControlLine(const nlohmann::json& body) {
  std::string text = body.dump();
  if (text.size() > kMaxControlMessage) {
    return Fail(InvalidArgument("control message of " + std::to_string(text.size()) +
                                " bytes is over the limit"));
  }
  text.push_back('\n');
  return text;
}

Result<std::optional<nlohmann::json>> ControlLineReader::Next() {
  auto end = buffer_.find('\n');
  if (end == std::string::npos) {
    if (buffer_.size() > kMaxControlMessage) {
      buffer_.clear();
      return Fail(InvalidArgument("control line over the limit"));
    }
    return std::nullopt;
  }
  std::string line = buffer_.substr(0, end);
  buffer_.erase(0, end + 1);
  if (line.size() > kMaxControlMessage) return Fail(InvalidArgument("control line over the limit"));
  nlohmann::json body;
  try {
    body = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    return Fail(InvalidArgument(std::string("control line is not JSON: ") + e.what()));
  }
  if (!body.is_object()) return Fail(InvalidArgument("control line is not an object"));
  return std::optional<nlohmann::json>(std::move(body));
}

}  // namespace moat::sandbox
