// Starts one application inside the wall as a child of moat-init, in a session of its own,
// with either the caller's stdio or a fresh pseudo-terminal from the session's devpts.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "app_confinement.h"
#include "moat/common/error.h"
#include "moat/common/unique_fd.h"

namespace moat::sandbox::init {

struct AppSpawn {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // complete environment, "K=V"
  std::string cwd;
  // Asked for by name: when it cannot be entered the launch fails. The default (the home)
  // falls back to "/", as a login does.
  bool cwd_required = false;
  bool tty = false;
  unsigned short rows = 0, cols = 0;
  bool no_huge_pages = false;  // PR_SET_THP_DISABLE before exec (see LaunchRequest)
  int stdio[3] = {-1, -1, -1};
  // Directory fds of the session group (one per hierarchy) and the sub-group to join there.
  const std::vector<UniqueFd>* cgroup_dirs = nullptr;
  std::string cgroup_name;
  // Which of cgroup_dirs is a cgroup2 hierarchy's (-1: none): the application is started
  // right in its sub-group there. In the others it moves itself by writing "0" to
  // `self_move_file` (CgroupDriver::SelfMoveFile).
  int cgroup2_index = -1;
  std::string self_move_file = "cgroup.procs";
  // A VM guest's moat-init runs as root: the application is confined by it first.
  const AppConfinement* confine = nullptr;
};

struct SpawnedApp {
  pid_t pid = 0;
  UniqueFd pty_master;
};

// Fails with the exec errno (ENOENT → "not found") when the program cannot be started.
Result<SpawnedApp> SpawnApplication(const AppSpawn& spawn);

}  // namespace moat::sandbox::init
