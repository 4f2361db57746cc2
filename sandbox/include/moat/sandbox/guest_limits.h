// The limits a VM guest's moat-init enforces with its own cgroups, as they travel in the
// control protocol's "limits" op (docs/vm.md):
//   {"op":"limits", "app":"" | "app-N", "set":{"pids_max":64, "cpu_percent":"max", ...}}
//   → {"limits":{...every limit the group has, after the change...}}
// "app" "" is the group that holds every application (the session's share of the guest), an
// "app-N" one application's own group. Without "set" the op only reads. Numbers are bytes,
// percent of one CPU, or counts; "max" lifts a limit. Only what a guest group can carry is
// accepted: cpu_percent, cpu_weight, memory_max, memory_high, pids_max.
#pragma once

#include <nlohmann/json.hpp>

#include "moat/common/error.h"
#include "moat/sandbox/session_spec.h"

namespace moat::sandbox {

// Fails, naming the key, on an unknown key, a value of the wrong type or out of range; then
// nothing is to be applied.
Result<Limits> GuestLimitsFromJson(const nlohmann::json& object);
// The set fields of `limits` (kUnlimited and kNoCpuCap as "max"); io and swap are left out.
nlohmann::json GuestLimitsToJson(const Limits& limits);
// Whether `limits` sets anything a guest group cannot carry (io, swap).
bool HasNonGuestLimits(const Limits& limits);

}  // namespace moat::sandbox
