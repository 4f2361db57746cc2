// The broker's check of session limit values, with the ranges the sandbox enforces
// (moat/common/limit_ranges.h). Whether an io device exists only its host can tell.
#include "moat/common/limit_ranges.h"

#include "moat/common/wire/messages.h"

namespace moat::wire {

Status CheckLimitRanges(const SessionLimits& limits) {
  namespace r = limit_ranges;
  MOAT_TRY_VOID(r::CheckCpuPercent(limits.cpu_percent));
  MOAT_TRY_VOID(r::Check(r::kCpuWeight, limits.cpu_weight));
  MOAT_TRY_VOID(r::Check(r::kMemoryMax, limits.memory_max));
  MOAT_TRY_VOID(r::Check(r::kMemoryHigh, limits.memory_high));
  MOAT_TRY_VOID(r::Check(r::kSwapMax, limits.swap_max));
  MOAT_TRY_VOID(r::Check(r::kPidsMax, limits.pids_max));
  MOAT_TRY_VOID(r::Check(r::kIoWeight, limits.io_weight));
  for (const auto& device : limits.io_devices) {
    MOAT_TRY_VOID(r::Check(r::kReadBps, device.read_bps));
    MOAT_TRY_VOID(r::Check(r::kWriteBps, device.write_bps));
    MOAT_TRY_VOID(r::Check(r::kReadIops, device.read_iops));
    MOAT_TRY_VOID(r::Check(r::kWriteIops, device.write_iops));
  }
  return {};
}

}  // namespace moat::wire
