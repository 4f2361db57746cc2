#include "vm_desktop.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include "moat/common/vm_display.h"
#include "rfb_probe.h"

namespace moat::agent {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Made by the guest's /init (moat-init, vm_guest_boot.cc), owned by the user, 0700.
constexpr char kGuestSocket[] = "/run/moat/display/rfb.sock";
// The static moat-init the guest's /init copied there; `--vm-relay` is the port's relay.
constexpr char kGuestRelay[] = "/run/moat-vm/moat-init";
constexpr char kPath[] = "PATH=/usr/local/bin:/usr/bin:/bin";

milliseconds Left(Clock::time_point deadline) {
  return std::max(milliseconds(1),
                  std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
}

Error StepFailed(const std::string& what, std::errc code) {
  return Error(std::make_error_code(code),
               what + " (the guest's logs are in /run/moat-vm/logs inside the VM)");
}

std::string Describe(const vm::VmExit& exit) {
  if (exit.signal) return "killed by signal " + std::to_string(exit.signal);
  return "exit status " + std::to_string(exit.code);
}

// Runs a short shell check in the guest as the user and waits for it; exit 0 is success.
Status RunCheck(vm::VmControl& control, const std::string& script, const std::string& what,
                Clock::time_point deadline) {
  MOAT_TRY(auto launched,
           control.Launch({"/bin/sh", "-c", script},
                          {kPath, std::string("DISPLAY=") + kDesktopDisplay}, "", Left(deadline)));
  auto exit = control.WaitExit(launched.pid, Left(deadline));
  if (!exit) {
    return Fail(StepFailed(what + " within the desktop timeout: " + exit.error().message(),
                           std::errc::timed_out));
  }
  if (exit->code != 0 || exit->signal != 0) {
    return Fail(StepFailed(what + ": " + Describe(*exit), std::errc::io_error));
  }
  return {};
}

}  // namespace

Result<DesktopReady> StartVmDesktop(vm::VmControl& control, const std::string& id,
                                    const std::string& host_socket, const DesktopRequest& request,
                                    const DesktopOptions& options) {
  auto start = Clock::now(), deadline = start + options.ready_timeout;
  DesktopReady ready;
  ready.rfb_socket = host_socket;
  ready.log = "/run/moat-vm/logs (in the guest)";
  const std::vector<std::string> env = {kPath, std::string("DISPLAY=") + kDesktopDisplay};

  // The socket's other end is the relay (the user) and, through the port, host root's gateway.
  const auto xvnc = XvncCommand(id, kGuestSocket, request, options);
  MOAT_TRY_CTX(auto server, control.Launch(xvnc, env, "", Left(deadline)), "launch Xvnc");
  // The relay connects to Xvnc per viewer, so it needs the socket to exist first; the check
  // fails at once if Xvnc died.
  MOAT_TRY_VOID(RunCheck(control,
                         "while kill -0 " + std::to_string(server.pid) + " 2>/dev/null; do " +
                             "[ -S " + kGuestSocket + " ] && exit 0; sleep 0.02; done; exit 1",
                         "Xvnc's socket in the guest", deadline));
  // One relay per port (vm_wall.cc): the owner's and each watcher's stream is its own Xvnc
  // client. All before the probe, which may land on any free port.
  for (int i = 0; i <= kVmDisplayWatchers; ++i) {
    const std::string port = VmDisplayPortName(i);
    MOAT_TRY_CTX(
        auto relay,
        control.Launch({kGuestRelay, "--vm-relay", port, kGuestSocket}, env, "", Left(deadline)),
        "launch the display relay for port " + port);
  }
  // Ready as for a sandbox: the greeting reaches the host end, through QEMU and the relay.
  Status last = FailErrno("connect", host_socket, ENOENT);
  while (Clock::now() < deadline) {
    last = ProbeRfbGreeting(host_socket, std::min(Left(deadline), milliseconds(2000)));
    if (last) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  if (!last) {
    return Fail(StepFailed("Xvnc's RFB greeting did not reach '" + host_socket +
                               "' within the desktop timeout: " + last.error().message(),
                           std::errc::timed_out));
  }
  ready.rfb_ready = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  MOAT_TRY_CTX(auto wm, control.Launch({options.window_manager}, env, "", Left(deadline)),
               "launch window manager '" + options.window_manager + "'");
  MOAT_TRY_VOID(RunCheck(control, AwaitWindowManagerScript(options.window_manager),
                         "window manager '" + options.window_manager + "' setting " +
                             WindowManagerReadyProperty(options.window_manager),
                         deadline));
  ready.wm_ready = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  std::vector<std::string> startup = {
      "/bin/sh", "-c",
      "s=\"$HOME/.config/moat/session\"; if [ -f \"$s\" ] && [ -x \"$s\" ]; then exec \"$s\"; fi; "
      "exec \"$@\"",
      "moat-session"};
  startup.insert(startup.end(), options.default_startup.begin(), options.default_startup.end());
  MOAT_TRY_CTX(auto started, control.Launch(startup, env, "", Left(deadline)),
               "launch the desktop's start-up");
  return ready;
}

}  // namespace moat::agent
