// The host user a session runs as, resolved once from the passwd database.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "moat/common/error.h"

namespace moat::sandbox {

struct UserIdentity {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
  std::string shell;
  // Supplementary groups kept inside the wall: the groups of SessionSpec::devices. Empty for
  // most sessions, which keep the user's primary group alone.
  std::vector<gid_t> device_groups;
};

Result<UserIdentity> LookupUser(const std::string& name);

}  // namespace moat::sandbox
