#include "user_identity.h"

#include <pwd.h>

#include <vector>

namespace moat::sandbox {

Result<UserIdentity> LookupUser(const std::string& name) {
  struct passwd entry {};
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  int rc = getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (rc != 0) return FailErrno("getpwnam_r", name, rc);
  if (found == nullptr) return Fail(InvalidArgument("unknown user '" + name + "'"));
  UserIdentity user;
  user.name = found->pw_name;
  user.uid = found->pw_uid;
  user.gid = found->pw_gid;
  user.home = found->pw_dir ? found->pw_dir : "/";
  user.shell = (found->pw_shell && *found->pw_shell) ? found->pw_shell : "/bin/sh";
  return user;
}

}  // namespace moat::sandbox
