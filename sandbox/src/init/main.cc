// moat-init: PID 1 of every session. Started by libmoat-sandbox in fresh namespaces with the
// setup socket on fd 3 and the compiled seccomp program on fd 4. In a VM session's guest it is
// the initramfs' /init (vm_guest_boot.h), which builds the session's root and goes on serving
// the session from there (vm_guest.h).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string_view>

#include "../setup_config.h"
#include "moat/sandbox/control_protocol.h"
#include "setup.h"
#include "supervisor.h"
#include "vm_guest.h"
#include "vm_guest_boot.h"
#include "vm_relay.h"

using namespace moat::sandbox;

int main(int argc, char** argv) {
  // libmoat-sandbox starts us with every signal blocked (init_process.cc); the kernel starts
  // a VM guest's /init with none. Either way, from here on the mask is ours to set.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
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
  auto first = ReceiveControlMessage(kSetupSocketFd);
  if (!first) return 3;
  auto config = SetupConfigFromJson(first->body);
  if (!config) {
    (void)SendControlMessage(
        kSetupSocketFd,
        {{"phase", "failed"}, {"errno", EINVAL}, {"message", config.error().message()}});
    return 3;
  }
  auto outcome = init::RunSetup(*config, kSetupSocketFd, kSeccompProgramFd);
  if (!outcome) {
    (void)SendControlMessage(kSetupSocketFd, {{"phase", "failed"},
                                              {"errno", outcome.error().code().value()},
                                              {"message", outcome.error().message()}});
    return 4;
  }
  (void)SendControlMessage(kSetupSocketFd, {{"phase", "ready"}});
  ::close(kSetupSocketFd);
  init::Supervisor supervisor(std::move(*config), std::move(outcome->control_listener),
                              std::move(outcome->cgroup_dirs));
  return supervisor.Run();
}
