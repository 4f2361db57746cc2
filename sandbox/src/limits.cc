// Validation of resource limits and block device names: shared by specs, the CLI and live
// changes, so that a bad value is refused the same way wherever it comes from.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdio>

#include "moat/sandbox/session_spec.h"

namespace moat::sandbox {
namespace {

Status CheckRange(const char* name, const std::optional<uint64_t>& value, uint64_t low,
                  uint64_t high, bool unlimited_ok) {
  if (!value) return {};
  if (*value == kUnlimited && unlimited_ok) return {};
  if (*value < low || *value > high) {
    return Fail(InvalidArgument(std::string("limit '") + name + "' = " + std::to_string(*value) +
                                " is outside " + std::to_string(low) + ".." + std::to_string(high) +
                                (unlimited_ok ? " (or max)" : "")));
  }
  return {};
}

}  // namespace

Status ValidateLimits(const Limits& limits) {
  if (limits.cpu_percent) {
    double pct = *limits.cpu_percent;
    // Below 1% the 100 ms period gives quotas under 1 ms, which CFS rounds badly.
    if (!(pct == kNoCpuCap || (pct >= 1.0 && pct <= 100.0 * 1024))) {
      return Fail(InvalidArgument("limit 'cpu_percent' = " + std::to_string(pct) +
                                  " is outside 1..102400 (or max)"));
    }
  }
  constexpr uint64_t kMiB = 1ull << 20, kPiB = 1ull << 50;
  MOAT_TRY_VOID(CheckRange("cpu_weight", limits.cpu_weight, 1, 10000, false));
  MOAT_TRY_VOID(CheckRange("memory_max", limits.memory_max, 4 * kMiB, kPiB, true));
  MOAT_TRY_VOID(CheckRange("memory_high", limits.memory_high, 4 * kMiB, kPiB, true));
  MOAT_TRY_VOID(CheckRange("swap_max", limits.swap_max, 0, kPiB, true));
  MOAT_TRY_VOID(CheckRange("pids_max", limits.pids_max, 1, 4194304, true));
  MOAT_TRY_VOID(CheckRange("io_weight", limits.io_weight, 1, 10000, false));
  for (const auto& device : limits.io_devices) {
    MOAT_TRY(auto resolved, ResolveBlockDevice(device.device));
    if (resolved != device.device) {
      return Fail(InvalidArgument("io device '" + device.device + "' must be given as MAJ:MIN"));
    }
    MOAT_TRY_VOID(CheckRange("read_bps", device.read_bps, 1, kPiB, true));
    MOAT_TRY_VOID(CheckRange("write_bps", device.write_bps, 1, kPiB, true));
    MOAT_TRY_VOID(CheckRange("read_iops", device.read_iops, 1, 1ull << 32, true));
    MOAT_TRY_VOID(CheckRange("write_iops", device.write_iops, 1, 1ull << 32, true));
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
  return canonical;
}

}  // namespace moat::sandbox
