#include "app_confinement.h"

#include <grp.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>

#include "credentials.h"
#include "moat/sandbox/seccomp_policy.h"

namespace moat::sandbox::init {

int ConfineApplication(const AppConfinement& c) {
  if (c.seccomp.empty()) return EINVAL;  // fail closed: never an application without a filter
  // The bounding set and the securebits go while we still hold CAP_SETPCAP. NO_SETUID_FIXUP
  // then keeps the uid change from clearing the sets, so they are emptied explicitly after it.
  const char* failed_call = "";
  if (int err = LockCapabilityBounds(&failed_call); err != 0) return err;
  if (::setgroups(c.groups.size(), c.groups.data()) != 0) return errno;
  if (::setresgid(c.gid, c.gid, c.gid) != 0) return errno;
  if (::setresuid(c.uid, c.uid, c.uid) != 0) return errno;
  if (int err = ClearCapabilitySets(); err != 0) return err;
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  if (int rc = InstallSeccompProgram(c.seccomp.data(), c.seccomp.size()); rc != 0) return -rc;
  return 0;
}

}  // namespace moat::sandbox::init
