// Validation of resource limits and block device names: shared by specs, the CLI and live
// changes, so that a bad value is refused the same way wherever it comes from.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdio>

#include "moat/common/limit_ranges.h"
#include "moat/sandbox/session_spec.h"

namespace moat::sandbox {

Status ValidateLimits(const Limits& limits) {
  namespace r = limit_ranges;
  MOAT_TRY_VOID(r::CheckCpuPercent(limits.cpu_percent));
  MOAT_TRY_VOID(r::Check(r::kCpuWeight, limits.cpu_weight));
  MOAT_TRY_VOID(r::Check(r::kMemoryMax, limits.memory_max));
  MOAT_TRY_VOID(r::Check(r::kMemoryHigh, limits.memory_high));
  MOAT_TRY_VOID(r::Check(r::kSwapMax, limits.swap_max));
  MOAT_TRY_VOID(r::Check(r::kPidsMax, limits.pids_max));
  MOAT_TRY_VOID(r::Check(r::kIoWeight, limits.io_weight));
  for (const auto& device : limits.io_devices) {
    MOAT_TRY(auto resolved, ResolveBlockDevice(device.device));
    if (resolved != device.device) {
      return Fail(InvalidArgument("io device '" + device.device + "' must be given as MAJ:MIN"));
    }
    MOAT_TRY_VOID(r::Check(r::kReadBps, device.read_bps));
    MOAT_TRY_VOID(r::Check(r::kWriteBps, device.write_bps));
    MOAT_TRY_VOID(r::Check(r::kReadIops, device.read_iops));
    MOAT_TRY_VOID(r::Check(r::kWriteIops, device.write_iops));
  }
  return {};
}

Result<std::string> ResolveBlockDevice(const std::string& name) {
  std::string numbers = name;
  if (name.starts_with("/")) {
    struct stat st {};
    if (::stat(name.c_str(), &st) != 0) return FailErrno("stat block device", name);
    if (!S_ISBLK(st.st_mode)) return Fail(InvalidArgument("'" + name + "' is not a block device"));
    numbers = std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
  }
  unsigned maj = 0, min = 0;
  char extra = 0;
  if (std::sscanf(numbers.c_str(), "%u:%u%c", &maj, &min, &extra) != 2) {
    return Fail(InvalidArgument("io device '" + name + "' is neither a /dev path nor MAJ:MIN"));
  }
  std::string canonical = std::to_string(maj) + ":" + std::to_string(min);
  struct stat st {};
  if (::stat(("/sys/dev/block/" + canonical).c_str(), &st) != 0) {
    return Fail(InvalidArgument("unknown block device '" + name + "'"));
  }
  // The kernel throttles whole disks only: a partition's rule would be refused (ENODEV).
  if (::stat(("/sys/dev/block/" + canonical + "/partition").c_str(), &st) == 0) {
    return Fail(
        InvalidArgument("io device '" + name + "' is a partition: io limits apply to whole disks"));
  }
  return canonical;
}

}  // namespace moat::sandbox
