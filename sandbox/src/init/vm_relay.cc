#include "vm_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "moat/common/error.h"
#include "moat/common/unique_fd.h"
#include "moat/common/unix_connect.h"
#include "virtio_ports.h"

namespace moat::sandbox::init {
namespace {

constexpr size_t kChunk = 32 * 1024;  // virtio_console writes at most 32 KiB at once anyway

// A virtio port polls as hung up while no host end is connected.
bool HostConnected(int port) {
  struct pollfd pfd = {port, POLLOUT, 0};
  return ::poll(&pfd, 1, 0) >= 0 && !(pfd.revents & POLLHUP);
}

Result<UniqueFd> ConnectUnix(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return FailErrno("socket", path);
  MOAT_TRY(auto address, UnixAddress(path));
  if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&address), sizeof(address)) != 0) {
    return FailErrno("connect", path);
  }
  return fd;
}

// Writes all of `data` to `fd` (the port is non-blocking: waits for room). False when the
// other end is gone (the host disconnected, Xvnc closed).
bool WriteAll(int fd, const char* data, size_t size, bool is_port) {
  while (size > 0) {
    ssize_t n = is_port ? ::write(fd, data, size) : ::send(fd, data, size, MSG_NOSIGNAL);
    if (n > 0) {
      data += n;
      size -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      struct pollfd pfd = {fd, POLLOUT, 0};
      if (::poll(&pfd, 1, -1) < 0 && errno != EINTR) return false;
      if (is_port && (pfd.revents & POLLHUP)) return false;
      continue;
    }
    return false;
  }
  return true;
}

// The port's connection changes and data arrivals, as queued real-time signals (F_SETSIG):
// virtio_console raises one, under the lock that guards the port's input, for each data
// buffer from the host and for each host open or close. Poll alone cannot tell a close and a
// reconnect that both happened while the relay was busy (QEMU accepts the next viewer, who
// may already wait in the listen backlog, right after the last one leaves); a signal that no
// data explains can.
class PortSignals {
 public:
  static Result<PortSignals> Watch(int port) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    sigaddset(&set, SIGIO);  // what the kernel falls back to when the RT queue is full
    if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return FailErrno("sigprocmask", "SIGRTMIN");
    UniqueFd fd(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!fd) return FailErrno("signalfd", "SIGRTMIN");
    if (::fcntl(port, F_SETOWN, ::getpid()) != 0) return FailErrno("fcntl F_SETOWN", "port");
    if (::fcntl(port, F_SETSIG, SIGRTMIN) != 0) return FailErrno("fcntl F_SETSIG", "port");
    if (::fcntl(port, F_SETFL, O_NONBLOCK | O_ASYNC) != 0) {
      return FailErrno("fcntl O_ASYNC", "port");
    }
    return PortSignals(std::move(fd));
  }
  int fd() const { return fd_.get(); }
  // How many arrived since the last call.
  int Drain() {
    int count = 0;
    struct signalfd_siginfo info;
    while (::read(fd_.get(), &info, sizeof(info)) == sizeof(info)) ++count;
    return count;
  }

 private:
  explicit PortSignals(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

enum class Ended { kHostLeft, kHostReconnected };

// One host connection: a fresh connection to Xvnc, bytes both ways until the host leaves.
Ended RelayOne(int port, PortSignals& signals, const std::string& socket) {
  signals.Drain();  // this connection's own open, and anything older
  auto xvnc = ConnectUnix(socket);
  if (!xvnc) std::fprintf(stderr, "moat-init relay: %s\n", xvnc.error().message().c_str());
  std::array<char, kChunk> buffer;
  for (;;) {
    std::array<struct pollfd, 3> fds = {
        {{port, POLLIN, 0}, {signals.fd(), POLLIN, 0}, {xvnc ? xvnc->get() : -1, POLLIN, 0}}};
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return Ended::kHostLeft;
    }
    if ((fds[0].revents | fds[1].revents) != 0) {
      // Signals first, then everything there is to read: the data read explains the signals
      // drained before it (the kernel queues a buffer's signal before the buffer can be read).
      int unexplained = signals.Drain();
      for (;;) {
        ssize_t n = ::read(port, buffer.data(), buffer.size());
        if (n == 0) return Ended::kHostLeft;
        if (n < 0) {
          if (errno == EAGAIN || errno == EINTR) break;
          return Ended::kHostLeft;
        }
        unexplained = 0;
        signals.Drain();
        // Without Xvnc (it closed, or never answered) the host's bytes go nowhere until it
        // leaves: the guest cannot hang up a host connection.
        if (xvnc && !WriteAll(xvnc->get(), buffer.data(), static_cast<size_t>(n), false)) {
          xvnc->Reset();
        }
      }
      if (!HostConnected(port)) return Ended::kHostLeft;
      // A change with no data while the host is connected: it left and a new viewer came, who
      // waits for Xvnc's greeting (an RFB client speaks second).
      if (unexplained > 0) return Ended::kHostReconnected;
    }
    if (xvnc && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = ::read(xvnc->get(), buffer.data(), buffer.size());
      if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) {
        xvnc->Reset();
        continue;
      }
      if (n > 0 && !WriteAll(port, buffer.data(), static_cast<size_t>(n), true)) {
        return Ended::kHostLeft;
      }
    }
  }
}

}  // namespace

int RunVmRelay(const std::string& port_name, const std::string& socket) {
  ::signal(SIGPIPE, SIG_IGN);
  auto path = FindVirtioPort(port_name);
  if (!path) {
    std::fprintf(stderr, "moat-init relay: %s\n", path.error().message().c_str());
    return 3;
  }
  UniqueFd port(::open(path->c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!port) {
    std::perror(("moat-init relay: open " + *path).c_str());
    return 3;
  }
  auto signals = PortSignals::Watch(port.get());
  if (!signals) {
    std::fprintf(stderr, "moat-init relay: %s\n", signals.error().message().c_str());
    return 3;
  }
  std::fprintf(stderr, "moat-init relay: %s (%s) <-> %s\n", port_name.c_str(), path->c_str(),
               socket.c_str());
  std::array<char, kChunk> discard;
  for (;;) {
    // Every host open raises a signal, so waiting on them cannot miss one.
    while (!HostConnected(port.get())) {
      struct pollfd pfd = {signals->fd(), POLLIN, 0};
      if (::poll(&pfd, 1, -1) < 0 && errno != EINTR) {
        std::perror("moat-init relay: poll");
        return 3;
      }
      signals->Drain();
    }
    if (RelayOne(port.get(), *signals, socket) == Ended::kHostLeft) {
      // What the last host sent after its viewer stopped listening must not reach the next.
      while (::read(port.get(), discard.data(), discard.size()) > 0) {
      }
    }
  }
}

}  // namespace moat::sandbox::init
