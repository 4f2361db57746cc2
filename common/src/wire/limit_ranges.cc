// The value ranges of session limits, the same the sandbox enforces (sandbox/src/limits.cc), so
// that the broker refuses a bad value before it records anything. Whether an io device exists
// only its host can tell.
#include "moat/common/wire/messages.h"

namespace moat::wire {
namespace {

Status CheckRange(const char* name, const std::optional<uint64_t>& value, uint64_t low,
                  uint64_t high, bool unlimited_ok) {
  if (!value) return {};
  if (*value == kUnlimited && unlimited_ok) return {};
  if (*value < low || *value > high) {
    return Fail(InvalidArgument(
        std::string("limit '") + name + "' = " +
        (*value == kUnlimited ? std::string("max") : std::to_string(*value)) + " is outside " +
        std::to_string(low) + ".." + std::to_string(high) + (unlimited_ok ? " (or max)" : "")));
  }
  return {};
}

}  // namespace

Status CheckLimitRanges(const SessionLimits& limits) {
  if (limits.cpu_percent) {
    double pct = *limits.cpu_percent;
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
    MOAT_TRY_VOID(CheckRange("read_bps", device.read_bps, 1, kPiB, true));
    MOAT_TRY_VOID(CheckRange("write_bps", device.write_bps, 1, kPiB, true));
    MOAT_TRY_VOID(CheckRange("read_iops", device.read_iops, 1, 1ull << 32, true));
    MOAT_TRY_VOID(CheckRange("write_iops", device.write_iops, 1, 1ull << 32, true));
  }
  return {};
}

}  // namespace moat::wire
