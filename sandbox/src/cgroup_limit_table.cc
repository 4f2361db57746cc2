#include "cgroup_limit_table.h"

#include <algorithm>
#include <cmath>

namespace moat::sandbox {
namespace {

uint64_t CpuQuotaUs(double percent) {
  return static_cast<uint64_t>(std::llround(percent * kCpuPeriodUs / 100.0));
}

}  // namespace

std::vector<CgroupWrite> LimitWritesV1(const Limits& limits) {
  std::vector<CgroupWrite> writes;
  if (limits.cpu_percent) {
    writes.push_back({"cpu", "cpu.cfs_period_us", std::to_string(kCpuPeriodUs)});
    writes.push_back({"cpu", "cpu.cfs_quota_us", std::to_string(CpuQuotaUs(*limits.cpu_percent))});
  }
  // v2 weight 100 is the default share; v1's default is 1024 shares.
  if (limits.cpu_weight) {
    writes.push_back({"cpu", "cpu.shares", std::to_string(*limits.cpu_weight * 1024 / 100)});
  }
  if (limits.memory_max) {
    writes.push_back({"memory", "memory.limit_in_bytes", std::to_string(*limits.memory_max)});
  }
  // v1 has no throttling threshold; the soft limit is the closest: reclaim pressure first.
  if (limits.memory_high) {
    writes.push_back({"memory", "memory.soft_limit_in_bytes", std::to_string(*limits.memory_high)});
  }
  if (limits.swap_max && limits.memory_max) {
    writes.push_back({"memory", "memory.memsw.limit_in_bytes",
                      std::to_string(*limits.memory_max + *limits.swap_max)});
  }
  if (limits.pids_max) writes.push_back({"pids", "pids.max", std::to_string(*limits.pids_max)});
  if (limits.io_weight) {
    // blkio weights run 10..1000 where v2 io.weight runs 1..10000 (default 100 in both).
    uint64_t weight = std::clamp<uint64_t>(*limits.io_weight, 10, 1000);
    writes.push_back({"blkio", "blkio.bfq.weight", std::to_string(weight)});
  }
  return writes;
}

std::vector<CgroupWrite> LimitWritesV2(const Limits& limits) {
  std::vector<CgroupWrite> writes;
  if (limits.cpu_percent) {
    writes.push_back(
        {"cpu", "cpu.max",
         std::to_string(CpuQuotaUs(*limits.cpu_percent)) + " " + std::to_string(kCpuPeriodUs)});
  }
  if (limits.cpu_weight)
    writes.push_back({"cpu", "cpu.weight", std::to_string(*limits.cpu_weight)});
  if (limits.memory_max) {
    writes.push_back({"memory", "memory.max", std::to_string(*limits.memory_max)});
  }
  if (limits.memory_high) {
    writes.push_back({"memory", "memory.high", std::to_string(*limits.memory_high)});
  }
  if (limits.swap_max) {
    writes.push_back({"memory", "memory.swap.max", std::to_string(*limits.swap_max)});
  }
  if (limits.pids_max) writes.push_back({"pids", "pids.max", std::to_string(*limits.pids_max)});
  if (limits.io_weight) {
    writes.push_back({"io", "io.weight", "default " + std::to_string(*limits.io_weight)});
  }
  return writes;
}

}  // namespace moat::sandbox
