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

// A v1 group's memory limits as they stand: memsw counts memory and swap together, so a change
// of either needs the other (kUnlimited also where there is no swap accounting).
struct V1MemoryNow {
  uint64_t memory_max = kUnlimited;
  uint64_t memsw_max = kUnlimited;
};

// The writes that put `limits` into force, in a safe order. Unset limits produce no write. On
// v1 a memory max changed alone keeps the swap limit in force, and memsw never drops below the
// memory limit nor is lifted on the way (a write that fails part-way must not leave the session
// free to swap).
std::vector<CgroupWrite> LimitWritesV1(const Limits& limits, const V1MemoryNow& now = {});
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
