// `moat-init --vm-relay PORT_NAME SOCKET`, in a VM session's guest: pipes the virtio-serial
// port named PORT_NAME (the host end is a Unix socket the display gateway connects to) to the
// Unix stream socket SOCKET (Xvnc's), one host connection at a time, with a fresh connection
// to SOCKET for each host connection (RFB starts with the server's greeting, so every viewer
// needs its own). Started by the VM backend as the session's user once Xvnc listens. See
// docs/vm.md, "Desktops in a VM".
#pragma once

#include <string>

namespace moat::sandbox::init {

// Runs until killed; returns non-zero only when the port or the socket cannot be used at all.
int RunVmRelay(const std::string& port_name, const std::string& socket);

}  // namespace moat::sandbox::init
