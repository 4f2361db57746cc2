// moat-escape-suid: the setuid-root binary the escape suite plants in a wall. The driver
// chowns it to root and sets mode 4755. Inside a wall no_new_privs (and the user namespace,
// which does not map root) must make the setuid bit inert: the probe runs it and reads
//   euid=N ruid=N shadow=readable|unreadable:ERRNO
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

int main() {
  int fd = open("/etc/shadow", O_RDONLY | O_CLOEXEC);
  char byte = 0;
  bool readable = fd >= 0 && read(fd, &byte, 1) == 1;
  int err = errno;
  if (fd >= 0) close(fd);
  const char* name = strerrorname_np(err);
  std::printf(
      "euid=%d ruid=%d shadow=%s%s\n", static_cast<int>(geteuid()), static_cast<int>(getuid()),
      readable ? "readable" : "unreadable:", readable ? "" : (name != nullptr ? name : "?"));
  return 0;
}
