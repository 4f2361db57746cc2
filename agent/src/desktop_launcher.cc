#include "desktop_launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <optional>
#include <thread>

#include "moat/common/unique_fd.h"
#include "moat/sandbox/control_client.h"
#include "rfb_probe.h"

namespace moat::agent {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kWallDisplayDir[] = "/run/moat/display";
constexpr milliseconds kProbeInterval{10};

// What a step needs: where to launch, where output goes, the overall deadline.
struct Context {
  std::string control_socket;
  std::string log_path;
  int log_fd = -1;
  Clock::time_point start, deadline;
};

milliseconds Left(const Context& c) {
  return std::max(milliseconds(1),
                  std::chrono::duration_cast<milliseconds>(c.deadline - Clock::now()));
}

std::string LogTail(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return "";
  off_t size = ::lseek(fd.get(), 0, SEEK_END);
  off_t from = size > 600 ? size - 600 : 0;
  std::string text(static_cast<size_t>(size - from), '\0');
  ssize_t n = ::pread(fd.get(), text.data(), text.size(), from);
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

Error StepFailed(const Context& c, const std::string& what, std::errc code) {
  std::string tail = LogTail(c.log_path);
  return Error(std::make_error_code(code),
               what + " (log '" + c.log_path + "'" + (tail.empty() ? "" : ", ends: " + tail) + ")");
}

// Launches argv in the wall as the user with DISPLAY set and output to the log. The returned
// connection reports the application's exit (ControlClient::WaitExit).
Result<sandbox::ControlClient> LaunchInWall(const Context& c, std::vector<std::string> argv) {
  MOAT_TRY(auto client, sandbox::ControlClient::Connect(c.control_socket));
  MOAT_TRY_VOID(client.SetTimeout(Left(c)));
  sandbox::LaunchRequest request;
  std::string name = argv.front();
  request.argv = std::move(argv);
  request.env = {std::string("DISPLAY=") + kDesktopDisplay};
  UniqueFd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!dev_null) return FailErrno("open", "/dev/null");
  MOAT_TRY_CTX(auto launched, client.Launch(request, dev_null.get(), c.log_fd, c.log_fd),
               "launch '" + name + "'");
  return client;
}

std::optional<sandbox::ExitStatus> ExitedAlready(sandbox::ControlClient& app) {
  struct pollfd pfd = {app.fd(), POLLIN, 0};
  if (::poll(&pfd, 1, 0) <= 0) return std::nullopt;
  auto status = app.WaitExit();
  return status ? *status : sandbox::ExitStatus{.code = -1, .error = status.error().message()};
}

std::string Describe(const sandbox::ExitStatus& status) {
  if (!status.error.empty()) return status.error;
  if (status.signal) return "killed by signal " + std::to_string(status.signal);
  return "exit status " + std::to_string(status.code);
}

Status LaunchXvnc(const Context& c, const std::string& id, const DesktopRequest& request,
                  const DesktopOptions& options, std::optional<sandbox::ControlClient>& xvnc) {
  MOAT_TRY(xvnc, LaunchInWall(c, XvncCommand(id, std::string(kWallDisplayDir) + "/rfb.sock",
                                             request, options)));
  return {};
}

// Ready when the host side gets the greeting; fails early if Xvnc exits.
Status AwaitRfb(const Context& c, const std::string& socket, sandbox::ControlClient& xvnc) {
  Status last = FailErrno("connect", socket, ENOENT);
  while (Clock::now() < c.deadline) {
    if (auto exited = ExitedAlready(xvnc)) {
      return Fail(StepFailed(c, "Xvnc ended before its RFB socket answered: " + Describe(*exited),
                             std::errc::io_error));
    }
    last = ProbeRfbGreeting(socket, std::min(Left(c), milliseconds(1000)));
    if (last) return {};
    std::this_thread::sleep_for(kProbeInterval);
  }
  return Fail(StepFailed(c,
                         "Xvnc's RFB socket '" + socket + "' did not answer within the " +
                             "desktop timeout: " + last.error().message(),
                         std::errc::timed_out));
}

// The check runs in the wall (the X socket exists only there) as one small shell loop around
// xprop.
Status AwaitWindowManager(const Context& c, const std::string& wm) {
  MOAT_TRY(auto wait, LaunchInWall(c, {"/bin/sh", "-c", AwaitWindowManagerScript(wm)}));
  auto status = wait.WaitExit();
  if (!status) {
    return Fail(StepFailed(c,
                           "window manager '" + wm + "' did not set " +
                               WindowManagerReadyProperty(wm) +
                               " within the desktop timeout: " + status.error().message(),
                           std::errc::timed_out));
  }
  if (status->ShellCode() != 0) {
    return Fail(StepFailed(c,
                           "waiting for window manager '" + wm + "' failed: " + Describe(*status),
                           std::errc::io_error));
  }
  return {};
}

}  // namespace

std::string WindowManagerReadyProperty(const std::string& window_manager) {
  std::string name = window_manager.substr(window_manager.rfind('/') + 1);
  return name == "openbox" ? "_OB_THEME" : "_NET_SUPPORTING_WM_CHECK";
}

std::string AwaitWindowManagerScript(const std::string& window_manager) {
  // xprop prints a set string as `NAME(UTF8_STRING) = "…"`, a set window as
  // `NAME(WINDOW): window id # 0x…`, and an unset one as `NAME:  not found.`.
  return "until xprop -root " + WindowManagerReadyProperty(window_manager) +
         " 2>/dev/null | grep -q -e ' = ' -e 'window id # 0x'; do sleep 0.01; done";
}

namespace {

// The user's own start-up if executable, else the default; decided in the wall, as the user.
std::vector<std::string> StartupCommand(const DesktopOptions& options) {
  std::vector<std::string> argv = {
      "/bin/sh", "-c",
      "s=\"$HOME/.config/moat/session\"; if [ -f \"$s\" ] && [ -x \"$s\" ]; then exec \"$s\"; fi; "
      "exec \"$@\"",
      "moat-session"};
  argv.insert(argv.end(), options.default_startup.begin(), options.default_startup.end());
  return argv;
}

}  // namespace

std::vector<std::string> XvncCommand(const std::string& session_id, const std::string& socket,
                                     const DesktopRequest& request, const DesktopOptions& options) {
  std::vector<std::string> argv = {"Xvnc",           kDesktopDisplay,
                                   "-rfbunixpath",   socket,
                                   "-rfbunixmode",   "0600",
                                   "-rfbport",       "-1",
                                   "-nolisten",      "tcp",
                                   "-SecurityTypes", "None",
                                   "-geometry",      request.geometry,
                                   "-depth",         std::to_string(request.depth),
                                   "-desktop",       "moat-" + session_id};
  if (!options.glx) argv.insert(argv.end(), {"-extension", "GLX"});
  return argv;
}

Result<DesktopReady> StartDesktop(const sandbox::SessionManager& manager,
                                  const sandbox::SessionInfo& session,
                                  const DesktopRequest& request, const DesktopOptions& options) {
  Context c;
  c.start = Clock::now();
  c.deadline = c.start + options.ready_timeout;
  c.control_socket = session.control_socket;
  const std::string host_dir = manager.HostDirPath(session.id, kDisplayHostDir);
  DesktopReady ready;
  ready.rfb_socket = host_dir + "/rfb.sock";
  ready.log = c.log_path = host_dir + "/desktop.log";
  // Nothing of the session runs yet but moat-init; O_EXCL|O_NOFOLLOW still refuses a planted
  // name rather than write through it as root.
  UniqueFd log(
      ::open(c.log_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!log) return FailErrno("create", c.log_path);
  if (::fchown(log.get(), session.uid, static_cast<gid_t>(-1)) != 0) {
    return FailErrno("chown", c.log_path);
  }
  c.log_fd = log.get();

  std::optional<sandbox::ControlClient> xvnc;
  MOAT_TRY_VOID(LaunchXvnc(c, session.id, request, options, xvnc));
  MOAT_TRY_VOID(AwaitRfb(c, ready.rfb_socket, *xvnc));
  ready.rfb_ready = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - c.start);
  MOAT_TRY(auto wm, LaunchInWall(c, {options.window_manager}));
  MOAT_TRY_VOID(AwaitWindowManager(c, options.window_manager));
  ready.wm_ready = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - c.start);
  MOAT_TRY(auto startup, LaunchInWall(c, StartupCommand(options)));
  return ready;
}

}  // namespace moat::agent
