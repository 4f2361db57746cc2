// A desktop inside a running sandbox session: Xvnc on a Unix socket only, the window manager,
// then the user's start-up, each launched through moat-init as the session's user. The RFB
// socket is in the session's "display" host dir (sandbox/src/host_dirs.h): /run/moat/display
// in the wall, <run dir>/sessions/<id>/display on the host, where only host root reaches it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "moat/common/error.h"
#include "moat/sandbox/session_manager.h"

namespace moat::agent {

// The host dir the session spec must ask for (SessionSpec::host_dirs) to have a desktop.
inline constexpr char kDisplayHostDir[] = "display";

struct DesktopOptions {
  std::string geometry = "1280x800";  // when the request gives none
  uint64_t depth = 24;
  // Started when the user has no executable ~/.config/moat/session.
  std::vector<std::string> default_startup = {"xterm"};
  std::string window_manager = "openbox";
  // Software GLX (Mesa's llvmpipe, with libLLVM) costs Xvnc about 50 MiB of Pss and 10 MiB of
  // anonymous memory per desktop (docs/performance.md); applications fall back to X rendering
  // without it. Off unless a host wants GL in its desktops.
  bool glx = false;
  // From the first launch until the window manager has said it is ready.
  std::chrono::milliseconds ready_timeout{20000};
};

struct DesktopRequest {
  std::string geometry;  // "WIDTHxHEIGHT", validated by the wire codec
  uint64_t depth = 24;
};

struct DesktopReady {
  std::string rfb_socket;  // host path of the RFB Unix socket, for the display gateway
  std::string log;         // host path of Xvnc's, the window manager's and the start-up's output
  // Since StartDesktop was called.
  std::chrono::microseconds rfb_ready{0}, wm_ready{0};
};

// What a desktop runs is the same in a sandbox's wall and in a VM's guest (vm_desktop.cc).
// Display :1: each wall and each guest has its own /tmp (so its own /tmp/.X11-unix) and its own
// network (so its own abstract sockets), so it cannot collide.
inline constexpr char kDesktopDisplay[] = ":1";
// Xvnc on the Unix socket `socket` only (-rfbport -1, -nolisten tcp), mode 0600, without VNC
// authentication: the other end is host root's gateway, which authenticates users itself.
std::vector<std::string> XvncCommand(const std::string& session_id, const std::string& socket,
                                     const DesktopRequest& request, const DesktopOptions& options);
// The root window property that says `window_manager` manages the screen: openbox's _OB_THEME
// (set once its theme is loaded), else EWMH's _NET_SUPPORTING_WM_CHECK, which any EWMH window
// manager sets.
std::string WindowManagerReadyProperty(const std::string& window_manager);
// A shell loop that ends once that property is set; it runs where the X socket is, in the wall
// or the guest.
std::string AwaitWindowManagerScript(const std::string& window_manager);

// Starts the desktop of `session` (which has the display host dir) and returns once Xvnc
// answers with the RFB greeting and the window manager has said it is ready (above),
// with the user's start-up launched. On failure the caller ends the session; the error names
// the step, the timeout and the last lines of the log.
Result<DesktopReady> StartDesktop(const sandbox::SessionManager& manager,
                                  const sandbox::SessionInfo& session,
                                  const DesktopRequest& request, const DesktopOptions& options);

}  // namespace moat::agent
