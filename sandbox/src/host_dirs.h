// Directories a session shares with the host side only: each name N is <session dir>/N on the
// host and /run/moat/N inside the wall (a read-write bind made before the pivot). The session
// directory is root's with mode 0700 and the run directory is masked in every wall, so only
// host root (the agent, the broker's display gateway) and this session reach it; another
// session, or the same user outside the wall, cannot even traverse to it.
#pragma once

#include <sys/types.h>

#include <string>

#include "moat/common/error.h"

namespace moat::sandbox {

inline constexpr const char* kHostDirMountParent = "/run/moat";
// Each host dir is a tmpfs of its own, this big: it lives on the host's /run, which a session
// must not be able to fill (its pages are charged to the session's memory cgroup as well).
inline constexpr const char* kHostDirTmpfsOptions = "size=64m,nr_inodes=4096";

// [a-z][a-z0-9-]{0,31}, and not "root" (the session's staging root).
bool IsValidHostDirName(const std::string& name);

// mkdir <session_dir>/<name> and mount a size-limited tmpfs there (kHostDirTmpfsOptions), mode
// 0700, owned by uid:gid so the session's user can make its sockets there.
Status CreateHostDir(const std::string& session_dir, const std::string& name, uid_t uid, gid_t gid);

// Removes every host directory of an ended session, with whatever the session left in them:
// unmounts its tmpfs (which takes the contents with it), then removes the directory. A host
// dir without a tmpfs (made by an older Moat) is emptied through directory fds, never following
// a symlink the session may have planted.
Status RemoveHostDirs(const std::string& session_dir);

}  // namespace moat::sandbox
