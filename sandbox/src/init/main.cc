// moat-init: PID 1 of every session. Started by libmoat-sandbox in fresh namespaces with the
// setup socket on fd 3 and the compiled seccomp program on fd 4. In a VM session's guest it is
// the initramfs' /init (vm_guest_boot.h), which builds the session's root and goes on serving
// the session from there (vm_guest.h).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string_view>

#include "session_init.h"
#include "vm_guest.h"
#include "vm_guest_boot.h"
#include "vm_relay.h"

using namespace moat::sandbox;

int main(int argc, char** argv) {
  // The kernel starts the VM guest's initramfs' /init (this binary); any word of the kernel
  // command line it does not know would come as an argument, so only the name decides.
  if (std::string_view(argv[0]) == "/init" && getpid() == 1) {
    return init::RunVmGuest(init::BootVmGuest());
  }
  // A desktop's RFB relay in a VM guest, started through the control protocol as the user.
  if (argc == 4 && std::string_view(argv[1]) == "--vm-relay") {
    return init::RunVmRelay(argv[2], argv[3]);
  }
  if (argc != 1 || getpid() != 1) {
    std::fprintf(stderr,
                 "moat-init is started by moat-sandbox and the agent as a session's PID 1; "
                 "it is not meant to be run by hand\n");
    return 2;
  }
  return init::RunSessionInit();
}
