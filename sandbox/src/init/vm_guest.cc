#include "vm_guest.h"

#include <fcntl.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <map>

#include "embedded_seccomp.h"
#include "moat/common/text.h"
#include "guest_cgroups.h"
#include "supervisor.h"
#include "vm_guest_root.h"

namespace moat::sandbox::init {
namespace {

Result<unsigned long> Number(const std::map<std::string, std::string>& words,
                             const std::string& key) {
  auto it = words.find(key);
  if (it == words.end() || it->second.empty()) {
    return Fail(InvalidArgument("kernel command line lacks " + key + "="));
  }
  char* end = nullptr;
  unsigned long value = std::strtoul(it->second.c_str(), &end, 10);
  if (*end != '\0') return Fail(InvalidArgument(key + "='" + it->second + "' is not a number"));
  return value;
}

}  // namespace

Result<VmGuestConfig> VmGuestConfigFromCmdline(const std::string& cmdline) {
  std::map<std::string, std::string> words;
  for (auto piece : text::Words(cmdline)) {
    std::string word(piece);
    auto eq = word.find('=');
    if (word.rfind("moat.", 0) == 0 && eq != std::string::npos) {
      words[word.substr(0, eq)] = word.substr(eq + 1);
    }
  }
  VmGuestConfig out;
  for (const char* key : {"moat.id", "moat.user", "moat.home"}) {
    if (words[key].empty())
      return Fail(InvalidArgument(std::string("kernel command line lacks ") + key + "="));
  }
  out.config.id = words["moat.id"];
  out.config.hostname = "moat-" + out.config.id;
  out.config.user.name = words["moat.user"];
  out.config.user.home = words["moat.home"];
  out.config.user.shell = words["moat.shell"].empty() ? "/bin/sh" : words["moat.shell"];
  MOAT_TRY(auto uid, Number(words, "moat.uid"));
  MOAT_TRY(auto gid, Number(words, "moat.gid"));
  if (uid == 0) return Fail(InvalidArgument("a VM session never runs as root"));
  out.config.user.uid = static_cast<uid_t>(uid);
  out.config.user.gid = static_cast<gid_t>(gid);
  out.groups.push_back(out.config.user.gid);
  for (auto piece : text::Split(words["moat.groups"], ',')) {
    std::string group(piece);
    char* end = nullptr;
    unsigned long value = std::strtoul(group.c_str(), &end, 10);
    if (*end != '\0') return Fail(InvalidArgument("moat.groups: '" + group + "' is not a number"));
    if (value != out.config.user.gid) out.groups.push_back(static_cast<gid_t>(value));
  }
  if (!words["moat.seccomp"].empty()) out.seccomp_profile = words["moat.seccomp"];
  return out;
}

int RunVmGuest(const std::string& port) {
  auto guest = VmGuestConfigFromCmdline(text::ReadFirstLine("/proc/cmdline"));
  if (!guest) {
    std::fprintf(stderr, "moat-init: %s\n", guest.error().message().c_str());
    return 3;
  }
  // Refused before the port is served: the host then sees a guest that never answers, with
  // the reason on the console, rather than applications that run unconfined.
  AppConfinement confinement{.uid = guest->config.user.uid,
                             .gid = guest->config.user.gid,
                             .groups = guest->groups,
                             .seccomp = EmbeddedSeccompProgram(guest->seccomp_profile)};
  if (confinement.seccomp.empty()) {
    std::fprintf(stderr, "moat-init: no seccomp profile '%s' in this moat-init\n",
                 guest->seccomp_profile.c_str());
    return 3;
  }
  if (auto narrowed = NarrowGuestRoot(guest->config.user.home); !narrowed) {
    std::fprintf(stderr, "moat-init: %s\n", narrowed.error().message().c_str());
    return 3;
  }
  // The guest's own cgroups (pids_max, per-application limits): refused like the seccomp
  // filter, since the host relies on them for limits it does not enforce itself.
  auto cgroups = GuestCgroups::Mount();
  auto apps_dir = cgroups ? cgroups->OpenAppsDir() : Result<UniqueFd>(Fail(cgroups.error()));
  if (!apps_dir) {
    std::fprintf(stderr, "moat-init: guest cgroups: %s\n", apps_dir.error().message().c_str());
    return 3;
  }
  UniqueFd fd(::open(port.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    std::perror(("moat-init: open " + port).c_str());
    return 3;
  }
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
