#include "loopback.h"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include "moat/common/unique_fd.h"

namespace moat::sandbox::init {

Status BringUpLoopback() {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return FailErrno("socket", "AF_INET");
  struct ifreq request {};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(fd.get(), SIOCGIFFLAGS, &request) != 0) return FailErrno("ioctl SIOCGIFFLAGS", "lo");
  request.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (::ioctl(fd.get(), SIOCSIFFLAGS, &request) != 0) return FailErrno("ioctl SIOCSIFFLAGS", "lo");
  return {};
}

}  // namespace moat::sandbox::init
