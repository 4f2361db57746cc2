#include "moat/sandbox/guest_limits.h"

#include <cmath>

#include "moat/common/limit_ranges.h"

namespace moat::sandbox {
namespace {

namespace r = limit_ranges;

Result<uint64_t> Count(const std::string& key, const nlohmann::json& value) {
  if (value.is_string() && value.get<std::string>() == "max") return kUnlimited;
  if (!value.is_number_unsigned()) {
    return Fail(InvalidArgument("limit '" + key + "' must be a whole number or \"max\""));
  }
  return value.get<uint64_t>();
}

Result<double> Percent(const nlohmann::json& value) {
  if (value.is_string() && value.get<std::string>() == "max") return kNoCpuCap;
  if (!value.is_number() || !std::isfinite(value.get<double>())) {
    return Fail(InvalidArgument("limit 'cpu_percent' must be a number or \"max\""));
  }
  return value.get<double>();
}

nlohmann::json CountJson(uint64_t value) {
  return value == kUnlimited ? nlohmann::json("max") : nlohmann::json(value);
}

}  // namespace

Result<Limits> GuestLimitsFromJson(const nlohmann::json& object) {
  if (!object.is_object()) return Fail(InvalidArgument("limits must be a JSON object"));
  Limits limits;
  for (const auto& [key, value] : object.items()) {
    if (key == "cpu_percent") {
      MOAT_TRY(limits.cpu_percent, Percent(value));
    } else if (key == "cpu_weight") {
      MOAT_TRY(limits.cpu_weight, Count(key, value));
    } else if (key == "memory_max") {
      MOAT_TRY(limits.memory_max, Count(key, value));
    } else if (key == "memory_high") {
      MOAT_TRY(limits.memory_high, Count(key, value));
    } else if (key == "pids_max") {
      MOAT_TRY(limits.pids_max, Count(key, value));
    } else {
      return Fail(InvalidArgument("limit '" + key + "' cannot be set in a VM guest"));
    }
  }
  MOAT_TRY_VOID(r::CheckCpuPercent(limits.cpu_percent));
  MOAT_TRY_VOID(r::Check(r::kCpuWeight, limits.cpu_weight));
  MOAT_TRY_VOID(r::Check(r::kMemoryMax, limits.memory_max));
  MOAT_TRY_VOID(r::Check(r::kMemoryHigh, limits.memory_high));
  MOAT_TRY_VOID(r::Check(r::kPidsMax, limits.pids_max));
  return limits;
}

nlohmann::json GuestLimitsToJson(const Limits& limits) {
  nlohmann::json out = nlohmann::json::object();
  if (limits.cpu_percent) {
    out["cpu_percent"] = *limits.cpu_percent == kNoCpuCap ? nlohmann::json("max")
                                                          : nlohmann::json(*limits.cpu_percent);
  }
  if (limits.cpu_weight) out["cpu_weight"] = CountJson(*limits.cpu_weight);
  if (limits.memory_max) out["memory_max"] = CountJson(*limits.memory_max);
  if (limits.memory_high) out["memory_high"] = CountJson(*limits.memory_high);
  if (limits.pids_max) out["pids_max"] = CountJson(*limits.pids_max);
  return out;
}

bool HasNonGuestLimits(const Limits& limits) {
  return limits.swap_max || limits.io_weight || !limits.io_devices.empty();
}

}  // namespace moat::sandbox
