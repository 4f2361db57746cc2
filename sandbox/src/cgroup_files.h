// Small file helpers shared by both cgroup drivers.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "moat/common/error.h"

namespace moat::sandbox {

Status WriteCgroupFile(const std::string& path, const std::string& value);
// Reading one: text::ReadFile (moat/common/text.h).
Result<std::vector<pid_t>> ReadPidList(const std::string& path);
Status MakeDirs(const std::string& path, mode_t mode = 0755);
// rmdir of `path` and every directory below it, deepest first; retries EBUSY for up to
// `wait_ms` while the last processes of a killed group exit.
Status RemoveCgroupTree(const std::string& path, int wait_ms = 2000);

}  // namespace moat::sandbox
