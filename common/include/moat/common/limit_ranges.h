// The value ranges of resource limits, in one place for the sandbox (which enforces them) and
// the broker (which refuses a bad value before it records anything). Header-only: the sandbox
// may use common's core and nothing else.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "moat/common/error.h"

namespace moat::limit_ranges {

// UINT64_MAX lifts a limit ("max"); infinity lifts the CPU cap.
inline constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();
inline constexpr double kNoCpuCap = std::numeric_limits<double>::infinity();

struct Range {
  const char* name;
  uint64_t low, high;
  bool unlimited_ok;
};

inline constexpr uint64_t kMiB = 1ull << 20, kPiB = 1ull << 50;
inline constexpr Range kCpuWeight{"cpu_weight", 1, 10000, false};
inline constexpr Range kMemoryMax{"memory_max", 4 * kMiB, kPiB, true};
inline constexpr Range kMemoryHigh{"memory_high", 4 * kMiB, kPiB, true};
inline constexpr Range kSwapMax{"swap_max", 0, kPiB, true};
inline constexpr Range kPidsMax{"pids_max", 1, 4194304, true};
inline constexpr Range kIoWeight{"io_weight", 1, 10000, false};
inline constexpr Range kReadBps{"read_bps", 1, kPiB, true};
inline constexpr Range kWriteBps{"write_bps", 1, kPiB, true};
inline constexpr Range kReadIops{"read_iops", 1, 1ull << 32, true};
inline constexpr Range kWriteIops{"write_iops", 1, 1ull << 32, true};

inline Status Check(const Range& range, const std::optional<uint64_t>& value) {
  if (!value) return {};
  if (*value == kUnlimited && range.unlimited_ok) return {};
  if (*value < range.low || *value > range.high) {
    return Fail(InvalidArgument(
        std::string("limit '") + range.name +
        "' = " + (*value == kUnlimited ? std::string("max") : std::to_string(*value)) +
        " is outside " + std::to_string(range.low) + ".." + std::to_string(range.high) +
        (range.unlimited_ok ? " (or max)" : "")));
  }
  return {};
}

// Percent of one core, 1 to 102400 (1024 cores), or kNoCpuCap. Below 1 % the 100 ms period
// gives quotas under 1 ms, which CFS rounds badly.
inline Status CheckCpuPercent(const std::optional<double>& percent) {
  if (!percent) return {};
  double pct = *percent;
  if (pct == kNoCpuCap || (pct >= 1.0 && pct <= 100.0 * 1024)) return {};
  return Fail(InvalidArgument("limit 'cpu_percent' = " + std::to_string(pct) +
                              " is outside 1..102400 (or max)"));
}

}  // namespace moat::limit_ranges
