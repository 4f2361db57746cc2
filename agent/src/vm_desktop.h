// A desktop inside a VM session (docs/vm.md, "Desktops in a VM"): Xvnc in the guest on a Unix
// socket only, as the session's user, the window manager, then the user's start-up, each
// launched through moat-init's control port; the RFB stream leaves the guest through the
// virtio-serial port "moat.display", whose host end is a Unix socket the agent binds where the
// display gateway looks for a local desktop: <run>/sessions/<id>/display/rfb.sock, as for a
// sandbox. Same readiness rules as desktop_launcher.h: ready when the RFB greeting reaches the
// host socket, the window manager when it has set _OB_THEME.
#pragma once

#include <string>

#include "desktop_launcher.h"
#include "moat/common/error.h"
#include "moat/common/unique_fd.h"
#include "vm_control.h"

namespace moat::agent {

// <run>/sessions/<id>/display: root's, 0700, like a sandbox's display host dir. Nothing else
// lives in <run>/sessions/<id> for a VM session (no state.json), so the sandbox's
// SessionManager never lists it.
std::string VmDisplayDir(const std::string& run_dir, const std::string& id);

// Binds and listens on <VmDisplayDir>/rfb.sock (mode 0600), creating the directories. The agent
// binds it as root and hands the listening fd to QEMU (VmSpec::display_listener), which runs
// as the user and so could not bind there itself.
Result<UniqueFd> BindVmDisplaySocket(const std::string& run_dir, const std::string& id);

// Removes <run>/sessions/<id> (the socket and its directories). Missing is fine.
Status RemoveVmDisplay(const std::string& run_dir, const std::string& id);

// Starts the desktop in the booted guest whose moat-init answers on `control`, and returns
// once the host socket `host_socket` gives the RFB greeting and the window manager is ready,
// with the user's start-up launched. `log` of the result names the guest's log directory.
Result<DesktopReady> StartVmDesktop(vm::VmControl& control, const std::string& id,
                                    const std::string& host_socket, const DesktopRequest& request,
                                    const DesktopOptions& options);

}  // namespace moat::agent
