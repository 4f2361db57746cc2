// The one place that maps each limit to its cgroup file and value, for v1 and v2, both ways:
// the writes that put limits into force, and the parsing of what the kernel reports back.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "moat/common/error.h"
#include "moat/sandbox/session_spec.h"

namespace moat::sandbox {

struct CgroupWrite {
  std::string controller;  // v1 hierarchy ("cpu", "memory", ...); informational on v2
  std::string file;        // file name inside the group directory
  std::string value;
  bool operator==(const CgroupWrite&) const = default;
};

inline constexpr uint64_t kCpuPeriodUs = 100000;

// The writes that put `limits` into force, in a safe order. Unset limits produce no write.
// `current_memory_max` is needed on v1 to turn swap_max into memory.memsw.limit_in_bytes, and
// `current_swap_max` (the swap the group is limited to, if any) to keep that swap when only
// the memory max changes: memsw counts memory and swap together.
std::vector<CgroupWrite> LimitWritesV1(const Limits& limits, uint64_t current_memory_max,
                                       std::optional<uint64_t> current_swap_max = std::nullopt);
std::vector<CgroupWrite> LimitWritesV2(const Limits& limits);

// Reads one file of the group: (controller, file) → contents. A missing file is an error.
using CgroupReader = std::function<Result<std::string>(const std::string&, const std::string&)>;
// The effective limits, every field set (kUnlimited / kNoCpuCap where there is none).
Result<Limits> ReadLimitsV1(const CgroupReader& read);
Result<Limits> ReadLimitsV2(const CgroupReader& read);

// Value parsing shared with usage sampling: "max" → kUnlimited; v1's "no limit" sentinel
// (a page-rounded LONG_MAX) too.
Result<uint64_t> ParseCgroupValue(const std::string& text);
// "key value" lines (cpu.stat, memory.stat, memory.events) → the value of `key`.
std::optional<uint64_t> FindKeyedValue(const std::string& text, const std::string& key);

}  // namespace moat::sandbox
