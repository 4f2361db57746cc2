// moat-init's set-up pipeline: from a freshly cloned process in new mount, pid, uts, ipc and
// net namespaces to a locked-down PID 1 inside the finished wall.
#pragma once

#include <vector>

#include "../setup_config.h"
#include "moat/common/error.h"
#include "moat/common/unique_fd.h"

namespace moat::sandbox::init {

struct SetupOutcome {
  UniqueFd control_listener;
  // The session group in each hierarchy, kept open to make application sub-groups after the
  // pivot (the wall has no cgroup filesystem of its own).
  std::vector<UniqueFd> cgroup_dirs;
};

// Each step's error is prefixed with the step's name; the host gets it over the setup socket.
Result<SetupOutcome> RunSetup(const SetupConfig& config, int setup_socket, int seccomp_fd);

}  // namespace moat::sandbox::init
