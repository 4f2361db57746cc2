#include "rfb_probe.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "moat/common/unique_fd.h"
#include "moat/common/unix_connect.h"

namespace moat::agent {

Status ProbeRfbGreeting(const std::string& socket_path, std::chrono::milliseconds timeout) {
  MOAT_TRY(UniqueFd fd, ConnectUnixNoFollow(socket_path));
  constexpr size_t kSize = sizeof(kRfbGreeting) - 1;
  char greeting[kSize];
  size_t got = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (got < kSize) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    struct pollfd pfd = {fd.get(), POLLIN, 0};
    if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) == 0) {
      return FailErrno("read greeting", socket_path, ETIMEDOUT);
    }
    ssize_t n = ::read(fd.get(), greeting + got, kSize - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("read", socket_path);
    if (n == 0) return FailErrno("read greeting", socket_path, ECONNRESET);
    got += static_cast<size_t>(n);
  }
  if (std::memcmp(greeting, kRfbGreeting, kSize) != 0) {
    return Fail(Error(std::make_error_code(std::errc::protocol_error),
                      "'" + socket_path + "' answered '" + std::string(greeting, kSize - 1) +
                          "', not the RFB 3.8 greeting"));
  }
  return {};
}

}  // namespace moat::agent
