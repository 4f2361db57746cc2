#include <linux/magic.h>
#include <sys/statfs.h>

#include "cgroup_drivers.h"

namespace moat::sandbox {

Result<std::unique_ptr<CgroupDriver>> CgroupDriver::Detect(const CgroupOptions& options) {
  struct statfs fs {};
  if (::statfs(options.mount_root.c_str(), &fs) != 0) {
    return FailErrno("statfs", options.mount_root);
  }
  if (fs.f_type == CGROUP2_SUPER_MAGIC) return MakeCgroupV2(options);
  // A tmpfs of per-controller mounts: v1, or hybrid with a controller-less cgroup2 beside it.
  if (fs.f_type == TMPFS_MAGIC) return MakeCgroupV1(options);
  return Fail(InvalidArgument("'" + options.mount_root +
                              "' is neither a cgroup2 mount nor a tmpfs of cgroup v1 hierarchies"));
}

}  // namespace moat::sandbox
