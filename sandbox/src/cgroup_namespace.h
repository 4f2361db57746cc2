// A cgroup namespace rooted at a session's group, made without moving any process by
// cgroup.procs (which waits for the kernel's global lock; clone_into_cgroup.h).
#pragma once

#include <string>

#include "moat/common/error.h"
#include "moat/common/unique_fd.h"

namespace moat::sandbox {

// A namespace is rooted where its creator is. On v2 moat-init lives in the session group's
// `init` leaf, and the group must hand controllers down, which it may not while it holds a
// process. So a helper is born in the group (`cgroup_fd`, a cgroup2 directory), creates the
// namespace and exits; it has been reaped when this returns, leaving the group empty. Callers
// join the namespace with setns. Fails where clone3 does.
Result<UniqueFd> MakeCgroupNamespaceIn(int cgroup_fd, const std::string& group_path);

}  // namespace moat::sandbox
