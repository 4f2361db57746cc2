#include "vm_guest.h"

#include <fcntl.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>

#include "embedded_seccomp.h"
#include "guest_cgroups.h"
#include "moat/common/text.h"
#include "supervisor.h"
#include "vm_guest_root.h"

namespace moat::sandbox::init {

void FailVmGuest(const std::string& why) {
  std::fprintf(stderr, "MOAT-VM-GUEST-FAILED: %s\n", why.c_str());
  std::fflush(stderr);
  ::sync();
  ::reboot(RB_POWER_OFF);
  std::_Exit(1);  // not reached: PID 1 powering off
}

int RunVmGuest(const std::string& port) {
  auto guest = VmGuestConfigFromCmdline(text::ReadFirstLine("/proc/cmdline"));
  if (!guest) FailVmGuest(guest.error().message());
  // Refused before the port is served: the host then sees a guest that never answers, with
  // the reason on the console, rather than applications that run unconfined.
  AppConfinement confinement{.uid = guest->config.user.uid,
                             .gid = guest->config.user.gid,
                             .groups = guest->groups,
                             .seccomp = EmbeddedSeccompProgram(guest->seccomp_profile)};
  if (confinement.seccomp.empty()) {
    FailVmGuest("no seccomp profile '" + guest->seccomp_profile + "' in this moat-init");
  }
  if (auto narrowed = NarrowGuestRoot(guest->config.user.home); !narrowed) {
    FailVmGuest(narrowed.error().message());
  }
  // The guest's own cgroups (pids_max, per-application limits): refused like the seccomp
  // filter, since the host relies on them for limits it does not enforce itself.
  auto cgroups = GuestCgroups::Mount();
  auto apps_dir = cgroups ? cgroups->OpenAppsDir() : Result<UniqueFd>(Fail(cgroups.error()));
  if (!apps_dir) FailVmGuest("guest cgroups: " + apps_dir.error().message());
  UniqueFd fd(::open(port.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!fd) FailVmGuest("open '" + port + "': " + std::strerror(errno));
  const std::string log_dir = "/run/moat-vm/logs";
  ::mkdir("/run/moat-vm", 0755);
  ::mkdir(log_dir.c_str(), 0755);
  (void)!::sethostname(guest->config.hostname.data(), guest->config.hostname.size());
  std::fprintf(stderr, "moat-init: serving session '%s' on %s\n", guest->config.id.c_str(),
               port.c_str());
  auto supervisor =
      Supervisor::ForVmPort(std::move(guest->config), std::move(fd), std::move(confinement),
                            log_dir, std::move(*cgroups), std::move(*apps_dir));
  int code = supervisor.Run();
  // PID 1 must not exit (the kernel would panic): the session is over, so is the VM.
  ::sync();
  ::reboot(RB_POWER_OFF);
  return code;
}

}  // namespace moat::sandbox::init
