// Thin mount(2) wrappers whose errors name the call, the filesystem and the target.
#pragma once

#include <sys/mount.h>

#include <string>

#include "moat/common/error.h"

namespace moat::sandbox::init {

Status Mount(const std::string& source, const std::string& target, const char* fstype,
             unsigned long flags, const std::string& data = "");
// Recursive bind, then a read-only remount when asked (a bind ignores MS_RDONLY on its own).
Status Bind(const std::string& source, const std::string& target, bool read_only,
            unsigned long extra_flags = MS_NOSUID | MS_NODEV);
// An empty read-only tmpfs over a directory, or /dev/null over a file: what was there is gone.
Status MaskPath(const std::string& path, const std::string& dev_null);
// mkdir -p of a directory, or of the parent and an empty file, to mount on.
Status EnsureMountPoint(const std::string& path, bool directory);
bool PathExists(const std::string& path);
bool IsDirectory(const std::string& path);

}  // namespace moat::sandbox::init
