#include "cgroup_limit_table.h"

#include <algorithm>
#include <cmath>

#include "moat/common/text.h"

namespace moat::sandbox {
namespace {

std::string CpuQuotaUs(double percent) {
  return std::to_string(std::llround(percent * kCpuPeriodUs / 100.0));
}

std::string V1Value(uint64_t value) { return value == kUnlimited ? "-1" : std::to_string(value); }
std::string V2Value(uint64_t value) { return value == kUnlimited ? "max" : std::to_string(value); }

}  // namespace

std::vector<CgroupWrite> LimitWritesV1(const Limits& limits, const V1MemoryNow& now) {
  std::vector<CgroupWrite> writes;
  if (limits.cpu_percent) {
    writes.push_back({"cpu", "cpu.cfs_period_us", std::to_string(kCpuPeriodUs)});
    writes.push_back({"cpu", "cpu.cfs_quota_us",
                      *limits.cpu_percent == kNoCpuCap ? "-1" : CpuQuotaUs(*limits.cpu_percent)});
  }
  // v2 weight 100 is the default share; v1's default is 1024 shares (minimum 2).
  if (limits.cpu_weight) {
    writes.push_back({"cpu", "cpu.shares",
                      std::to_string(std::max<uint64_t>(2, *limits.cpu_weight * 1024 / 100))});
  }
  const uint64_t memory = limits.memory_max.value_or(now.memory_max);
  std::optional<uint64_t> swap = limits.swap_max;
  if (!swap && limits.memory_max && now.memsw_max != kUnlimited && now.memory_max != kUnlimited) {
    swap = now.memsw_max - std::min(now.memsw_max, now.memory_max);
  }
  std::optional<uint64_t> total;
  if (swap) total = (memory == kUnlimited || *swap == kUnlimited) ? kUnlimited : memory + *swap;
  // memsw >= memory at every step: a total that grows goes first, one that shrinks last.
  const bool total_first = total && *total >= now.memsw_max;
  if (total_first) writes.push_back({"memory", "memory.memsw.limit_in_bytes", V1Value(*total)});
  if (limits.memory_max) {
    writes.push_back({"memory", "memory.limit_in_bytes", V1Value(*limits.memory_max)});
  }
  if (total && !total_first) {
    writes.push_back({"memory", "memory.memsw.limit_in_bytes", V1Value(*total)});
  }
  // v1 has no throttling threshold; the soft limit (reclaimed first under pressure) is the
  // closest equivalent of memory.high.
  if (limits.memory_high) {
    writes.push_back({"memory", "memory.soft_limit_in_bytes", V1Value(*limits.memory_high)});
  }
  if (limits.pids_max) writes.push_back({"pids", "pids.max", V2Value(*limits.pids_max)});
  if (limits.io_weight) {
    // BFQ's weights run 1..1000 where io.weight runs 1..10000 (default 100 in both).
    writes.push_back({"blkio", "blkio.bfq.weight",
                      std::to_string(std::clamp<uint64_t>(*limits.io_weight, 1, 1000))});
  }
  for (const auto& device : limits.io_devices) {
    // Writing 0 removes a v1 throttle rule.
    auto rule = [&](const char* file, const std::optional<uint64_t>& value) {
      if (value) {
        writes.push_back(
            {"blkio", file,
             device.device + " " + (*value == kUnlimited ? "0" : std::to_string(*value))});
      }
    };
    rule("blkio.throttle.read_bps_device", device.read_bps);
    rule("blkio.throttle.write_bps_device", device.write_bps);
    rule("blkio.throttle.read_iops_device", device.read_iops);
    rule("blkio.throttle.write_iops_device", device.write_iops);
  }
  return writes;
}

std::vector<CgroupWrite> LimitWritesV2(const Limits& limits) {
  std::vector<CgroupWrite> writes;
  if (limits.cpu_percent) {
    std::string quota = *limits.cpu_percent == kNoCpuCap ? "max" : CpuQuotaUs(*limits.cpu_percent);
    writes.push_back({"cpu", "cpu.max", quota + " " + std::to_string(kCpuPeriodUs)});
  }
  if (limits.cpu_weight)
    writes.push_back({"cpu", "cpu.weight", std::to_string(*limits.cpu_weight)});
  if (limits.memory_max) writes.push_back({"memory", "memory.max", V2Value(*limits.memory_max)});
  if (limits.memory_high) writes.push_back({"memory", "memory.high", V2Value(*limits.memory_high)});
  if (limits.swap_max) writes.push_back({"memory", "memory.swap.max", V2Value(*limits.swap_max)});
  if (limits.pids_max) writes.push_back({"pids", "pids.max", V2Value(*limits.pids_max)});
  if (limits.io_weight) {
    writes.push_back({"io", "io.weight", "default " + std::to_string(*limits.io_weight)});
  }
  for (const auto& device : limits.io_devices) {
    std::string value = device.device;
    auto key = [&](const char* name, const std::optional<uint64_t>& limit) {
      if (limit) value += std::string(" ") + name + "=" + V2Value(*limit);
    };
    key("rbps", device.read_bps);
    key("wbps", device.write_bps);
    key("riops", device.read_iops);
    key("wiops", device.write_iops);
    writes.push_back({"io", "io.max", value});
  }
  return writes;
}

Result<uint64_t> ParseCgroupValue(const std::string& raw) {
  std::string text = raw;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text == "max" || text == "-1") return kUnlimited;
  try {
    size_t used = 0;
    unsigned long long value = std::stoull(text, &used);
    if (used != text.size()) throw std::invalid_argument(text);
    // v1 reports "no memory limit" as LONG_MAX rounded down to a page.
    if (value >= (1ull << 62)) return kUnlimited;
    return value;
  } catch (const std::exception&) {
    return Fail(InvalidArgument("cgroup value '" + text + "' is not a number"));
  }
}

std::optional<uint64_t> FindKeyedValue(const std::string& text, const std::string& key) {
  auto words = text::Words(text);
  for (size_t i = 0; i + 1 < words.size(); i += 2) {
    auto value = text::ParseUnsigned(words[i + 1]);
    if (!value) break;
    if (words[i] == key) return value;
  }
  return std::nullopt;
}

}  // namespace moat::sandbox
