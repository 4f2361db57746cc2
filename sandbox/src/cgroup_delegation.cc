#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "cgroup_files.h"
#include "moat/sandbox/cgroup_driver.h"

namespace moat::sandbox {
namespace {

// "0::/system.slice/moat-agent.service" → "system.slice/moat-agent.service".
Result<std::string> OwnUnifiedCgroup() {
  std::ifstream file("/proc/self/cgroup");
  std::string line;
  while (std::getline(file, line)) {
    if (line.rfind("0::/", 0) == 0) return line.substr(4);
  }
  return Fail(InvalidArgument("no cgroup v2 entry in /proc/self/cgroup"));
}

}  // namespace

Result<CgroupOptions> DelegatedCgroupOptions(const CgroupOptions& fallback) {
  struct statfs fs {};
  if (::statfs(fallback.mount_root.c_str(), &fs) != 0) {
    return FailErrno("statfs", fallback.mount_root);
  }
  if (fs.f_type != CGROUP2_SUPER_MAGIC) return fallback;
  MOAT_TRY(auto own, OwnUnifiedCgroup());
  if (own.empty()) return fallback;  // the root cgroup: nothing was delegated
  std::string base = fallback.mount_root + "/" + own;
  std::string leaf = base + "/supervisor";
  MOAT_TRY_VOID_CTX(MakeDirs(leaf), "delegated cgroup");
  MOAT_TRY_VOID_CTX(WriteCgroupFile(leaf + "/cgroup.procs", std::to_string(::getpid())),
                    "move into the supervisor leaf of the delegated cgroup (is this process "
                    "alone in '" +
                        own + "'?)");
  CgroupOptions options = fallback;
  options.parent = own + "/moat";
  return options;
}

}  // namespace moat::sandbox
