// One interface over cgroup v1 and v2, chosen once at start-up from statfs. Groups are named
// by a path relative to Moat's parent group ("s1", "s1/init", "s1/app-3"); no caller ever asks
// which version it has.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "moat/common/error.h"
#include "moat/sandbox/session_spec.h"

namespace moat::sandbox {

struct CgroupOptions {
  // Moat's parent group, relative to each hierarchy's root (v1) or the unified root (v2).
  std::string parent = "moat";
  // Where the hierarchies are mounted.
  std::string mount_root = "/sys/fs/cgroup";
};

class CgroupDriver {
 public:
  virtual ~CgroupDriver() = default;

  // "v1" or "v2".
  virtual std::string Version() const = 0;
  virtual Status Create(const std::string& group) = 0;
  virtual Status Apply(const std::string& group, const Limits& limits) = 0;
  // The cgroup.procs files a process writes "0" into to join `group` in every hierarchy.
  virtual std::vector<std::string> ProcsFiles(const std::string& group) const = 0;
  virtual Status AddProcess(const std::string& group, pid_t pid) = 0;
  virtual Result<std::vector<pid_t>> Processes(const std::string& group) const = 0;
  virtual Status Kill(const std::string& group) = 0;
  // Removes the group and its sub-groups, waiting briefly for dying processes to leave.
  virtual Status Destroy(const std::string& group) = 0;
  virtual bool Exists(const std::string& group) const = 0;

  static Result<std::unique_ptr<CgroupDriver>> Detect(const CgroupOptions& options = {});
};

}  // namespace moat::sandbox
