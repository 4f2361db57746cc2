// A desktop inside a VM session (docs/vm.md, "Desktops in a VM"): Xvnc in the guest on a Unix
// socket only, as the session's user, the window manager, then the user's start-up, each
// launched through moat-init's control port; the RFB stream leaves the guest through the
// virtio-serial port "moat.display", whose host end is a Unix socket the VM wall binds where the
// display gateway looks for a local desktop: <run>/sessions/<id>/display/rfb.sock, as for a
// sandbox (vm_wall.h). Same readiness rules as desktop_launcher.h: ready when the RFB greeting
// reaches the host socket, the window manager when it has set _OB_THEME.
#pragma once

#include <string>

#include "desktop_launcher.h"
#include "moat/common/error.h"
#include "moat/common/unique_fd.h"
#include "vm_control.h"

namespace moat::agent {

// Starts the desktop in the booted guest whose moat-init answers on `control`, and returns
// once the host socket `host_socket` gives the RFB greeting and the window manager is ready,
// with the user's start-up launched. `log` of the result names the guest's log directory.
Result<DesktopReady> StartVmDesktop(vm::VmControl& control, const std::string& id,
                                    const std::string& host_socket, const DesktopRequest& request,
                                    const DesktopOptions& options);

}  // namespace moat::agent
