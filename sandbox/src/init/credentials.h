// Who moat-init becomes: the session's user in a user namespace of its own, with no
// capabilities anywhere, no_new_privs, and not dumpable (no ptrace or /proc/1/mem from inside).
#pragma once

#include <functional>

#include "../user_identity.h"
#include "moat/common/error.h"

namespace moat::sandbox::init {

// unshare(CLONE_NEWUSER), then `await_maps` lets the host write uid_map/gid_map. Every other
// namespace stays owned by the initial user namespace, so even root inside could not mount,
// configure the network or change the hostname.
Status EnterUserNamespace(const std::function<Status()>& await_maps);
Status BecomeUser(const UserIdentity& user);
// Empties the bounding, permitted, effective, inheritable and ambient sets and locks the
// securebits so that no exec can bring a capability back.
Status DropAllCapabilities();
// The two halves of DropAllCapabilities, async-signal-safe for a forked child (a VM guest's
// application, which must change its uid in between): each returns 0 or an errno.
// LockCapabilityBounds needs CAP_SETPCAP; *failed_call names the step that failed.
int LockCapabilityBounds(const char** failed_call);
int ClearCapabilitySets();
Status LockDownProcess();

}  // namespace moat::sandbox::init
