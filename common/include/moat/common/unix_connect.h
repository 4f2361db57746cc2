// Unix socket addresses, and connecting, as root, to a Unix socket that lives in a directory a
// session's user can write (a desktop's RFB socket, a VM's channel sockets). Header-only, so
// moat-init and the VM wall, which link only common's header-only core, can use it too.
#pragma once

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>
#include <string>

#include "moat/common/error.h"
#include "moat/common/unique_fd.h"

namespace moat {

// The address of the socket at `path`; refused when the path does not fit (107 bytes at most).
inline Result<struct sockaddr_un> UnixAddress(const std::string& path) {
  struct sockaddr_un address {};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    return Fail(InvalidArgument("Unix socket path '" + path + "' is too long (" +
                                std::to_string(sizeof(address.sun_path) - 1) + " bytes at most)"));
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

// Connects a SOCK_STREAM socket to the socket inode at `path` itself, never to whatever a
// symbolic link there names: the last component is opened with O_PATH | O_NOFOLLOW, checked to
// be a socket, and connected through /proc/self/fd. Without this, a user who swaps their
// socket for a link to another session's socket (between a check and the connect, or before
// both) gets root's connect to reach it.
inline Result<UniqueFd> ConnectUnixNoFollow(const std::string& path) {
  UniqueFd inode(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!inode) return FailErrno("open", path);
  struct stat info {};
  if (::fstat(inode.get(), &info) != 0) return FailErrno("fstat", path);
  if (!S_ISSOCK(info.st_mode)) {
    return Fail(Error(std::make_error_code(std::errc::not_a_socket),
                      "'" + path + "' is not a socket (a link or another file is there)"));
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return FailErrno("socket", "AF_UNIX");
  // /proc/self/fd/N names exactly the inode checked above, and is short whatever `path` is.
  MOAT_TRY(auto address, UnixAddress("/proc/self/fd/" + std::to_string(inode.get())));
  if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&address), sizeof(address)) != 0) {
    return FailErrno("connect", path);
  }
  return fd;
}

}  // namespace moat
