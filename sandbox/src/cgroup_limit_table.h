// The one table that maps each limit to its file and value in cgroup v1 and v2.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "moat/sandbox/session_spec.h"

namespace moat::sandbox {

struct CgroupWrite {
  std::string controller;  // v1 hierarchy name ("cpu", "memory", ...); informational on v2
  std::string file;        // file name inside the group directory
  std::string value;
};

// The writes that put `limits` into force, in order. Unset limits produce no write.
std::vector<CgroupWrite> LimitWritesV1(const Limits& limits);
std::vector<CgroupWrite> LimitWritesV2(const Limits& limits);

inline constexpr uint64_t kCpuPeriodUs = 100000;

}  // namespace moat::sandbox
