#include "credentials.h"

#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

namespace moat::sandbox::init {

Status EnterUserNamespace(const std::function<Status()>& await_maps) {
  if (::unshare(CLONE_NEWUSER) != 0) return FailErrno("unshare", "CLONE_NEWUSER");
  return await_maps();
}

Status BecomeUser(const UserIdentity& user) {
  std::vector<gid_t> groups = {user.gid};
  groups.insert(groups.end(), user.device_groups.begin(), user.device_groups.end());
  if (::setgroups(groups.size(), groups.data()) != 0) return FailErrno("setgroups", user.name);
  if (::setresgid(user.gid, user.gid, user.gid) != 0) return FailErrno("setresgid", user.name);
  // Our old uid (host root) is unmapped here, so the kernel's "root gives up root" rule does
  // not clear capabilities on this call: DropAllCapabilities does that explicitly.
  if (::setresuid(user.uid, user.uid, user.uid) != 0) return FailErrno("setresuid", user.name);
  return {};
}

int LockCapabilityBounds(const char** failed_call) {
  // Securebits first: they need CAP_SETPCAP, which the bounding set is about to lose.
  unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                       SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                       SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
  if (::prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) != 0) {
    *failed_call = "prctl PR_SET_SECUREBITS";
    return errno;
  }
  // Up to 63, not the build headers' CAP_LAST_CAP: a newer kernel may know more capabilities
  // (the ones it does not know give EINVAL).
  for (int cap = 0; cap < 64; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      *failed_call = "prctl PR_CAPBSET_DROP";
      return errno;
    }
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    *failed_call = "prctl PR_CAP_AMBIENT_CLEAR_ALL";
    return errno;
  }
  return 0;
}

int ClearCapabilitySets() {
  // capset(2) directly: moat-init is linked statically and needs no libcap for an empty set.
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  return ::syscall(SYS_capset, &header, data) != 0 ? errno : 0;
}

Status DropAllCapabilities() {
  const char* failed_call = "";
  if (int err = LockCapabilityBounds(&failed_call); err != 0) {
    return FailErrno(failed_call, "capability bounds", err);
  }
  if (int err = ClearCapabilitySets(); err != 0) return FailErrno("capset", "empty set", err);
  return {};
}

Status LockDownProcess() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return FailErrno("prctl", "PR_SET_NO_NEW_PRIVS");
  // moat-init holds the control socket: keep session processes from ptracing it or reading
  // /proc/1/mem, /proc/1/environ and /proc/1/exe (CVE-2019-5736 went through the latter).
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return FailErrno("prctl", "PR_SET_DUMPABLE");
  return {};
}

}  // namespace moat::sandbox::init
