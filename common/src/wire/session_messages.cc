// Codecs of the broker → agent session messages and of the limits they carry.
#include <cmath>

#include "moat/common/desktop_geometry.h"
#include "moat/common/wire/messages.h"
#include "wire/json_read.h"

namespace moat::wire {

using internal::CheckNotEmpty;
using internal::CheckSessionId;
using internal::ExpectObject;
using internal::Join;
using internal::Read;
using internal::ReadLimit;
using internal::RejectUnknownKeys;

namespace internal {

Result<Backend> ReadBackend(const Json& object, std::string_view key, std::string_view where) {
  std::string name;
  MOAT_TRY_VOID(Read(object, key, where, name));
  if (name == "sandbox") return Backend::kSandbox;
  if (name == "vm") return Backend::kVm;
  return Fail(InvalidArgument("'" + Join(where, key) + "' must be \"sandbox\" or \"vm\", not '" +
                              name + "'"));
}

}  // namespace internal

namespace {

Json LimitValue(uint64_t value) { return value == kUnlimited ? Json("max") : Json(value); }

void PutLimit(Json& out, const char* key, const std::optional<uint64_t>& value) {
  if (value) out[key] = LimitValue(*value);
}

Result<IoDeviceLimits> IoDeviceFromJson(const Json& json, const std::string& where) {
  MOAT_TRY_VOID(ExpectObject(json, where));
  MOAT_TRY_VOID(RejectUnknownKeys(
      json, {"device", "read_bps", "write_bps", "read_iops", "write_iops"}, where));
  IoDeviceLimits device;
  MOAT_TRY_VOID(Read(json, "device", where, device.device));
  MOAT_TRY_VOID(CheckNotEmpty(device.device, Join(where, "device")));
  MOAT_TRY_VOID(ReadLimit(json, "read_bps", where, device.read_bps));
  MOAT_TRY_VOID(ReadLimit(json, "write_bps", where, device.write_bps));
  MOAT_TRY_VOID(ReadLimit(json, "read_iops", where, device.read_iops));
  MOAT_TRY_VOID(ReadLimit(json, "write_iops", where, device.write_iops));
  return device;
}

}  // namespace

std::string_view BackendName(Backend backend) { return backend == Backend::kVm ? "vm" : "sandbox"; }

Json ToJson(const SessionLimits& limits) {
  Json out = Json::object();
  if (limits.cpu_percent) {
    out["cpu_percent"] = std::isinf(*limits.cpu_percent) ? Json("max") : Json(*limits.cpu_percent);
  }
  PutLimit(out, "cpu_weight", limits.cpu_weight);
  PutLimit(out, "memory_max", limits.memory_max);
  PutLimit(out, "memory_high", limits.memory_high);
  PutLimit(out, "swap_max", limits.swap_max);
  PutLimit(out, "pids_max", limits.pids_max);
  PutLimit(out, "io_weight", limits.io_weight);
  if (!limits.io_devices.empty()) {
    Json devices = Json::array();
    for (const auto& device : limits.io_devices) {
      Json item = {{"device", device.device}};
      PutLimit(item, "read_bps", device.read_bps);
      PutLimit(item, "write_bps", device.write_bps);
      PutLimit(item, "read_iops", device.read_iops);
      PutLimit(item, "write_iops", device.write_iops);
      devices.push_back(std::move(item));
    }
    out["io_devices"] = std::move(devices);
  }
  return out;
}

Result<SessionLimits> SessionLimitsFromJson(const Json& json, std::string_view where) {
  MOAT_TRY_VOID(ExpectObject(json, where));
  MOAT_TRY_VOID(RejectUnknownKeys(json,
                                  {"cpu_percent", "cpu_weight", "memory_max", "memory_high",
                                   "swap_max", "pids_max", "io_weight", "io_devices"},
                                  where));
  SessionLimits limits;
  MOAT_TRY_VOID(ReadLimit(json, "cpu_percent", where, limits.cpu_percent));
  MOAT_TRY_VOID(ReadLimit(json, "cpu_weight", where, limits.cpu_weight));
  MOAT_TRY_VOID(ReadLimit(json, "memory_max", where, limits.memory_max));
  MOAT_TRY_VOID(ReadLimit(json, "memory_high", where, limits.memory_high));
  MOAT_TRY_VOID(ReadLimit(json, "swap_max", where, limits.swap_max));
  MOAT_TRY_VOID(ReadLimit(json, "pids_max", where, limits.pids_max));
  MOAT_TRY_VOID(ReadLimit(json, "io_weight", where, limits.io_weight));
  if (json.contains("io_devices")) {
    MOAT_TRY(const Json* devices, internal::ReadArray(json, "io_devices", where));
    std::string devices_where = Join(where, "io_devices");
    for (size_t i = 0; i < devices->size(); ++i) {
      MOAT_TRY(auto device, IoDeviceFromJson((*devices)[i], internal::Index(devices_where, i)));
      limits.io_devices.push_back(std::move(device));
    }
  }
  return limits;
}

Json ToJson(const SessionCreate& body) {
  Json out = {{"session_id", body.session_id},
              {"user", body.user},
              {"backend", BackendName(body.backend)},
              {"limits", ToJson(body.limits)},
              {"desktop", body.desktop}};
  if (body.geometry) out["geometry"] = *body.geometry;
  if (body.depth) out["depth"] = *body.depth;
  return out;
}

template <>
Result<SessionCreate> BodyFromJson(const Json& body) {
  MOAT_TRY_VOID(ExpectObject(body, "body"));
  MOAT_TRY_VOID(RejectUnknownKeys(
      body, {"session_id", "user", "backend", "limits", "desktop", "geometry", "depth"}, "body"));
  SessionCreate create;
  MOAT_TRY_VOID(Read(body, "session_id", "body", create.session_id));
  MOAT_TRY_VOID(CheckSessionId(create.session_id, "body.session_id"));
  MOAT_TRY_VOID(Read(body, "user", "body", create.user));
  MOAT_TRY_VOID(CheckNotEmpty(create.user, "body.user"));
  MOAT_TRY(create.backend, internal::ReadBackend(body, "backend", "body"));
  if (auto it = body.find("limits"); it != body.end()) {
    MOAT_TRY(create.limits, SessionLimitsFromJson(*it, "body.limits"));
  }
  MOAT_TRY_VOID(Read(body, "desktop", "body", create.desktop));
  MOAT_TRY_VOID(internal::ReadOptional(body, "geometry", "body", create.geometry));
  if (create.geometry) {
    MOAT_TRY_VOID(CheckDesktopGeometry(*create.geometry, "body.geometry"));
  }
  MOAT_TRY_VOID(internal::ReadOptional(body, "depth", "body", create.depth));
  if (create.depth)
    MOAT_TRY_VOID(CheckDesktopDepth(static_cast<int64_t>(*create.depth), "body.depth"));

  return create;
}

Json ToJson(const SessionSetLimits& body) {
  return {{"session_id", body.session_id}, {"limits", ToJson(body.limits)}};
}

template <>
Result<SessionSetLimits> BodyFromJson(const Json& body) {
  MOAT_TRY_VOID(ExpectObject(body, "body"));
  MOAT_TRY_VOID(RejectUnknownKeys(body, {"session_id", "limits"}, "body"));
  SessionSetLimits set;
  MOAT_TRY_VOID(Read(body, "session_id", "body", set.session_id));
  MOAT_TRY_VOID(CheckSessionId(set.session_id, "body.session_id"));
  auto it = body.find("limits");
  if (it == body.end()) return Fail(InvalidArgument("missing 'body.limits'"));
  MOAT_TRY(set.limits, SessionLimitsFromJson(*it, "body.limits"));
  return set;
}

Json ToJson(const SessionAction& body) {
  const char* action = body.action == SessionActionKind::kSuspend  ? "suspend"
                       : body.action == SessionActionKind::kResume ? "resume"
                                                                   : "end";
  return {{"session_id", body.session_id}, {"action", action}};
}

template <>
Result<SessionAction> BodyFromJson(const Json& body) {
  MOAT_TRY_VOID(ExpectObject(body, "body"));
  MOAT_TRY_VOID(RejectUnknownKeys(body, {"session_id", "action"}, "body"));
  SessionAction action;
  MOAT_TRY_VOID(Read(body, "session_id", "body", action.session_id));
  MOAT_TRY_VOID(CheckSessionId(action.session_id, "body.session_id"));
  std::string name;
  MOAT_TRY_VOID(Read(body, "action", "body", name));
  if (name == "suspend") {
    action.action = SessionActionKind::kSuspend;
  } else if (name == "resume") {
    action.action = SessionActionKind::kResume;
  } else if (name == "end") {
    action.action = SessionActionKind::kEnd;
  } else {
    return Fail(InvalidArgument("'body.action' must be \"suspend\", \"resume\" or \"end\", not '" +
                                name + "'"));
  }
  return action;
}

}  // namespace moat::wire
