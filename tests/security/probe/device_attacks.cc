// Devices, raw networking and terminals: raw and packet sockets, interface configuration,
// device nodes (made with mknod or found in /dev), file handles that bypass the mount tree
// ("shocker"), and TIOCSTI injection into the terminal outside the wall (CVE-2017-5226).
#include <fcntl.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "probe.h"

namespace moat::escape {
namespace {

Outcome SocketGate(const char* what, int domain, int type, int protocol) {
  int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
  int err = errno;
  if (fd >= 0) close(fd);
  return JudgeGate(what, fd, err, {EPERM, EACCES, ENOSYS, EAFNOSUPPORT, EPROTONOSUPPORT});
}

Outcome RawSocket(const Facts&) {
  return SocketGate("socket(AF_INET, SOCK_RAW)", AF_INET, SOCK_RAW, IPPROTO_ICMP);
}

Outcome PacketSocket(const Facts&) {
  return SocketGate("socket(AF_PACKET, SOCK_RAW)", AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
}

Outcome NetAdminIfflags(const Facts&) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Blocked(Failed("socket(AF_INET, SOCK_DGRAM)", errno));
  ifreq req{};
  strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFFLAGS, &req) != 0) {
    int err = errno;
    close(fd);
    return Blocked(Failed("SIOCGIFFLAGS lo", err));
  }
  // The flags just read: CAP_NET_ADMIN is checked, nothing changes.
  int rc = ioctl(fd, SIOCSIFFLAGS, &req);
  int err = errno;
  close(fd);
  return JudgeGate("SIOCSIFFLAGS lo", rc, err);
}

// The first disk the kernel lists, else sda's 8:0.
dev_t FirstDisk() {
  std::istringstream lines(ReadFile("/proc/partitions").data);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    unsigned major = 0, minor = 0;
    if (fields >> major >> minor) return makedev(major, minor);
  }
  return makedev(8, 0);
}

Outcome Mknod(mode_t type, dev_t dev, const char* label) {
  std::string path = "/tmp/moat-escape-" + std::string(label) + "-" + std::to_string(getpid());
  std::string what =
      std::string(label) + " " + std::to_string(major(dev)) + ":" + std::to_string(minor(dev));
  if (mknod(path.c_str(), type | 0600, dev) != 0) {
    return Blocked(Failed("mknod " + what + " at '" + path + "'", errno));
  }
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  std::string opened = fd >= 0 ? "and opened it" : "open: " + ErrnoText(errno);
  if (fd >= 0) close(fd);
  unlink(path.c_str());
  return Escaped("mknod " + what + " succeeded, " + opened);
}

Outcome MknodBlock(const Facts&) { return Mknod(S_IFBLK, FirstDisk(), "disk"); }
Outcome MknodChar(const Facts&) { return Mknod(S_IFCHR, makedev(1, 1), "mem"); }

Outcome OpenAny(const std::vector<std::string>& paths, size_t read_bytes) {
  std::vector<std::string> failures;
  for (const auto& path : paths) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
      failures.push_back(path + ": " + ErrName(errno));
      continue;
    }
    char buf[8192];
    ssize_t n = read_bytes > 0 ? read(fd, buf, std::min(read_bytes, sizeof(buf))) : 0;
    int err = errno;
    close(fd);
    if (read_bytes == 0 || n > 0) return Escaped("opened '" + path + "'");
    failures.push_back(path + ": opened, read " + ErrName(err));
  }
  return Blocked(Join(failures, ", "));
}

Outcome DevMem(const Facts&) { return OpenAny({"/dev/mem", "/dev/kmem", "/dev/port"}, 0); }

// With read access /dev/kmsg leaks kernel addresses and every container's log lines.
Outcome DevKmsg(const Facts&) { return OpenAny({"/dev/kmsg"}, 512); }

Outcome DevDisk(const Facts&) { return OpenAny(BlockDevicePaths(), 512); }

// "Shocker" (2014): open_by_handle_at resolves a handle on any inode of the filesystem,
// outside the container's bind mounts, for whoever holds CAP_DAC_READ_SEARCH.
Outcome OpenByHandleAt(const Facts&) {
  struct {
    file_handle fh;
    unsigned char bytes[MAX_HANDLE_SZ];
  } handle{};
  handle.fh.handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  std::string how = "handle of /etc";
  if (name_to_handle_at(AT_FDCWD, "/etc", &handle.fh, &mount_id, 0) != 0) {
    // Shocker's own guess: the root inode of an ext4 filesystem (FILEID_INO32_GEN, ino 2).
    handle.fh.handle_bytes = 8;
    handle.fh.handle_type = 1;
    uint32_t ino_gen[2] = {2, 0};
    memcpy(handle.fh.f_handle, ino_gen, sizeof(ino_gen));
    how = "forged handle of inode 2";
  }
  int mount_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int fd = open_by_handle_at(mount_fd, &handle.fh, O_RDONLY | O_CLOEXEC);
  int err = errno;
  if (fd >= 0) close(fd);
  close(mount_fd);
  if (fd >= 0) return Escaped("open_by_handle_at opened the " + how);
  // The capability check comes before the handle is even read.
  return JudgeGate("open_by_handle_at (" + how + ")", fd, err, {EPERM, EACCES, ENOSYS});
}

// CVE-2017-5226: a sandboxed process sharing the outside terminal pushes "rm -rf ~\n" into
// the shell that started it. The driver hands the sandbox a pty as its controlling terminal.
Outcome Tiocsti(const Facts&) {
  const char c = '#';
  std::vector<std::string> tried;
  for (int fd = 0; fd <= 2; ++fd) {
    if (!isatty(fd)) continue;
    if (ioctl(fd, TIOCSTI, &c) == 0) {
      return Escaped("TIOCSTI pushed input into the terminal on fd " + std::to_string(fd));
    }
    tried.push_back("fd " + std::to_string(fd) + ": " + ErrName(errno));
  }
  int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (tty < 0) {
    tried.push_back("/dev/tty: " + ErrName(errno));
  } else {
    int rc = ioctl(tty, TIOCSTI, &c);
    int err = errno;
    close(tty);
    if (rc == 0) return Escaped("TIOCSTI pushed input into the controlling terminal");
    tried.push_back("/dev/tty: " + ErrName(err));
  }
  return Blocked("TIOCSTI " + Join(tried, ", "));
}

// The same ioctls on a terminal of the probe's own, which the kernel would let it use: only
// the seccomp filter refuses them there (EPERM), for every form of the command word (a high
// bit set, as CVE-2019-10063 used against flatpak's filter). A kernel without legacy TIOCSTI
// answers EIO, which proves nothing of the wall and counts as an escape.
Outcome TiocstiOwnTerminal(const Facts&) {
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return Blocked(Failed("pipe2", errno));
  pid_t child = fork();
  if (child == 0) {
    close(report[0]);
    std::string result;
    int master = -1, slave = -1;
    if (setsid() < 0) {
      result = "E" + Failed("setsid", errno);
    } else if ((master = posix_openpt(O_RDWR | O_CLOEXEC)) < 0 || grantpt(master) != 0 ||
               unlockpt(master) != 0) {
      result = "B" + Failed("open a pty of our own", errno);
    } else if ((slave = open(ptsname(master), O_RDWR | O_CLOEXEC)) < 0) {  // becomes our ctty
      result = "B" + Failed("open its slave", errno);
    } else {
      const char c = '#';
      std::vector<std::string> won, lost;
      const unsigned long forms[] = {TIOCSTI, 0x100000000ul | TIOCSTI, TIOCLINUX};
      const char* names[] = {"TIOCSTI", "TIOCSTI|1<<32", "TIOCLINUX"};
      for (size_t i = 0; i < 3; ++i) {
        char arg[2] = {c, 0};  // TIOCLINUX reads a subcode byte; TIOCSTI one character
        long rc = syscall(SYS_ioctl, slave, forms[i], i == 2 ? arg : &c);
        int err = errno;
        if (rc == 0 || err != EPERM) {
          won.push_back(std::string(names[i]) + (rc == 0 ? " succeeded" : ": " + ErrName(err)));
        } else {
          lost.push_back(std::string(names[i]) + ": EPERM");
        }
      }
      result = won.empty() ? "B" + Join(lost, ", ") : "E" + Join(won, ", ") + " (not the filter)";
    }
    (void)!write(report[1], result.data(), result.size());
    _exit(0);
  }
  close(report[1]);
  std::string result;
  char buffer[512];
  ssize_t n;
  while ((n = read(report[0], buffer, sizeof(buffer))) > 0) result.append(buffer, n);
  close(report[0]);
  if (child > 0) waitpid(child, nullptr, 0);
  if (result.empty()) return Escaped("the child reported nothing");
  std::string detail = "on a pty of our own: " + result.substr(1);
  return result[0] == 'B' ? Blocked(detail) : Escaped(detail);
}

constexpr Attack kAttacks[] = {
    {"raw-socket", RawSocket},
    {"packet-socket", PacketSocket},
    {"net-admin-ifflags", NetAdminIfflags},
    {"mknod-block", MknodBlock},
    {"mknod-char", MknodChar},
    {"dev-mem", DevMem},
    {"dev-kmsg", DevKmsg},
    {"dev-disk", DevDisk},
    {"open-by-handle-at", OpenByHandleAt},
    {"tiocsti", Tiocsti},
    {"tiocsti-own-terminal", TiocstiOwnTerminal},
};

}  // namespace

std::span<const Attack> DeviceAttacks() { return kAttacks; }

}  // namespace moat::escape
