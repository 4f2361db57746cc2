// The host user a session runs as, resolved once from the passwd database.
#pragma once

#include <sys/types.h>

#include <string>

#include "moat/common/error.h"

namespace moat::sandbox {

struct UserIdentity {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
  std::string shell;
};

Result<UserIdentity> LookupUser(const std::string& name);

}  // namespace moat::sandbox
