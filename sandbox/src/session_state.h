// The one file a session keeps in its run directory: enough to find, check and end it.
#pragma once

#include <string>

#include "moat/common/error.h"
#include "moat/sandbox/session_manager.h"

namespace moat::sandbox {

// Written to a temporary name and renamed, so a reader never sees half a file.
Status WriteSessionState(const std::string& path, const SessionInfo& info);
Result<SessionInfo> ReadSessionState(const std::string& path);

}  // namespace moat::sandbox
