// moat-escape-victim: the victim session's one application. It leaves something for an
// attacker in another session to find (files in /tmp and /dev/shm, an abstract and a path
// socket, a SysV shared memory segment, the secret in its environment) and waits to be
// stopped. It marks itself ready by creating /tmp/<marker> last, which the driver sees on the
// host through /proc/<pid>/root.
//
//   moat-escape-victim --marker NAME --abstract NAME --unix-socket PATH --shm-key K
//                      [--rfb-socket PATH] [--x11-display N]   (a desktop's sockets)
//                      [--ready-file PATH]   (also marks ready there: a VM guest's /proc is
//                                             out of the host's sight, its home is not)
//   (the secret comes in the environment as MOAT_ESC_SECRET)
#include <fcntl.h>
#include <stddef.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "moat-escape-victim: %s: %s\n", what.c_str(), strerror(errno));
  std::exit(1);
}

int Listen(const std::string& name, bool abstract) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) Die("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t offset = abstract ? 1 : 0;
  if (name.size() + offset >= sizeof(addr.sun_path)) Die("socket name too long");
  memcpy(addr.sun_path + offset, name.data(), name.size());
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + offset + name.size() +
                                    (abstract ? 0 : 1));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) Die("bind '" + name + "'");
  if (!abstract) chmod(name.c_str(), 0777);
  if (listen(fd, 16) != 0) Die("listen '" + name + "'");
  return fd;
}

void WriteFile(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) Die("create '" + path + "'");
  if (write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) Die("write");
  close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  std::string marker, abstract, unix_socket, rfb_socket, x11_display, ready_file;
  int shm_key = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--marker")
      marker = argv[i + 1];
    else if (flag == "--abstract")
      abstract = argv[i + 1];
    else if (flag == "--unix-socket")
      unix_socket = argv[i + 1];
    else if (flag == "--rfb-socket")
      rfb_socket = argv[i + 1];
    else if (flag == "--x11-display")
      x11_display = argv[i + 1];
    else if (flag == "--ready-file")
      ready_file = argv[i + 1];
    else if (flag == "--shm-key")
      shm_key = static_cast<int>(std::strtol(argv[i + 1], nullptr, 0));
  }
  if (marker.empty() || abstract.empty() || unix_socket.empty() || shm_key == 0) {
    std::fprintf(stderr,
                 "usage: moat-escape-victim --marker NAME --abstract NAME --unix-socket PATH "
                 "--shm-key K [--rfb-socket PATH] [--x11-display N] [--ready-file PATH]\n");
    return 2;
  }
  const char* secret = getenv("MOAT_ESC_SECRET");
  std::string text = std::string("victim marker ") + (secret != nullptr ? secret : "") + "\n";
  Listen(abstract, true);
  unlink(unix_socket.c_str());
  Listen(unix_socket, false);
  // A desktop's sockets where Moat's desktop puts them: the RFB socket in the session's
  // display host dir, the X socket in /tmp/.X11-unix and under the same abstract name (as Xorg
  // and Xvnc listen). World-writable, so that only the wall keeps the attacker out.
  if (!rfb_socket.empty()) Listen(rfb_socket, false);
  if (!x11_display.empty()) {
    mkdir("/tmp/.X11-unix", 01777);
    chmod("/tmp/.X11-unix", 01777);
    std::string x11 = "/tmp/.X11-unix/X" + x11_display;
    unlink(x11.c_str());
    Listen(x11, false);
    Listen(x11, true);
  }
  if (shmget(shm_key, 4096, IPC_CREAT | 0666) < 0) Die("shmget");
  WriteFile("/dev/shm/" + marker, text);
  WriteFile("/tmp/" + marker, text);  // last: the driver waits for it
  if (!ready_file.empty()) WriteFile(ready_file, "ready\n");
  std::printf("moat-escape-victim: ready\n");
  std::fflush(stdout);
  for (;;) pause();
}
