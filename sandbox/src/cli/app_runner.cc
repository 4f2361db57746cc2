#include "app_runner.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>

namespace moat::sandbox::cli {
namespace {

// Puts the caller's terminal in raw mode for the life of the object.
class RawTerminal {
 public:
  RawTerminal() {
    if (::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    struct termios raw = saved_;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }

 private:
  struct termios saved_ {};
  bool active_ = false;
};

bool CopyOnce(int from, int to) {
  char buffer[8192];
  ssize_t n = ::read(from, buffer, sizeof(buffer));
  if (n <= 0) return false;
  for (ssize_t done = 0; done < n;) {
    ssize_t w = ::write(to, buffer + done, static_cast<size_t>(n - done));
    if (w <= 0) return false;
    done += w;
  }
  return true;
}

UniqueFd BlockAndWatchSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGWINCH}) sigaddset(&set, sig);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  return UniqueFd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
}

}  // namespace

bool StdioIsTerminal() { return ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO); }

int LaunchErrorCode(const Error& error) {
  // As a shell reports a command it could not run: not found, or found and not runnable.
  const int err = error.code().value();
  if (error.code().category() != std::generic_category()) return 125;
  if (err == ENOENT) return 127;
  for (int not_runnable : {EACCES, EPERM, ENOEXEC, ENOTDIR, ELOOP, ETXTBSY, EISDIR, ENAMETOOLONG}) {
    if (err == not_runnable) return 126;
  }
  return 125;
}

Result<ExitStatus> RunApplication(const std::string& control_socket, const RunRequest& request) {
  auto connected = ControlClient::Connect(control_socket);
  if (!connected) {
    // Our own failure (125), whatever its errno: only what moat-init reports of CMD is 126/127.
    return Fail(Error(std::make_error_code(std::errc::io_error), connected.error().message()));
  }
  ControlClient& client = *connected;
  LaunchRequest launch;
  launch.argv = request.argv;
  launch.env = request.env;
  launch.cwd = request.cwd;
  launch.tty = request.tty;
  if (request.tty) {
    const char* term = ::getenv("TERM");
    launch.term = term ? term : "xterm";
    struct winsize size {};
    if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &size) == 0) {
      launch.rows = size.ws_row;
      launch.cols = size.ws_col;
    }
  }
  UniqueFd signals = BlockAndWatchSignals();
  auto launched = client.Launch(launch, STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO);
  if (!launched) {
    // Map the errno moat-init reported back into the error for the exit status.
    return Fail(std::move(launched).error());
  }
  std::unique_ptr<RawTerminal> raw;
  if (request.tty) raw = std::make_unique<RawTerminal>();
  int master = launched->pty_master.get();
  bool stdin_open = request.tty;
  for (;;) {
    struct pollfd fds[4] = {{client.fd(), POLLIN, 0},
                            {signals.get(), POLLIN, 0},
                            {master, static_cast<short>(master >= 0 ? POLLIN : 0), 0},
                            {stdin_open ? STDIN_FILENO : -1, POLLIN, 0}};
    if (::poll(fds, 4, -1) < 0) {
      if (errno == EINTR) continue;
      return FailErrno("poll", "session");
    }
    if (fds[2].revents & (POLLIN | POLLHUP)) {
      if (!CopyOnce(master, STDOUT_FILENO)) master = -1;
    }
    if (fds[3].revents & (POLLIN | POLLHUP)) {
      if (!CopyOnce(STDIN_FILENO, launched->pty_master.get())) stdin_open = false;
    }
    if (fds[1].revents & POLLIN) {
      struct signalfd_siginfo info;
      while (::read(signals.get(), &info, sizeof(info)) == sizeof(info)) {
        if (info.ssi_signo == SIGWINCH && master >= 0) {
          struct winsize size {};
          if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &size) == 0) ::ioctl(master, TIOCSWINSZ, &size);
        } else if (info.ssi_signo != SIGWINCH) {
          // A second connection carries signals while the first waits for the exit event;
          // opened only when there is one to forward.
          if (auto signaller = ControlClient::Connect(control_socket)) {
            (void)signaller->Signal(launched->pid, static_cast<int>(info.ssi_signo));
          }
        }
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      auto status = client.WaitExit();
      // Drain what the application wrote just before it ended.
      while (master >= 0) {
        struct pollfd out = {master, POLLIN, 0};
        if (::poll(&out, 1, 50) <= 0 || !CopyOnce(master, STDOUT_FILENO)) break;
      }
      return status;
    }
  }
}

}  // namespace moat::sandbox::cli
