#include "moat/sandbox/session_spec.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>

#include "host_dirs.h"

namespace moat::sandbox {
namespace {

using Json = nlohmann::json;

// Reads one typed key; a wrong type is an error that names the key.
template <typename T>
Status ReadKey(const Json& object, const char* key, T& out) {
  auto it = object.find(key);
  if (it == object.end()) return {};
  // nlohmann would turn -1 into 2^64-1 and 1.5e9 into 1500000000: a count is written as one.
  if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T> && !std::is_same_v<T, bool>) {
    if (!it->is_number_unsigned()) {
      return Fail(InvalidArgument(std::string("spec key '") + key +
                                  "' must be a whole number >= 0, not " + it->dump()));
    }
  }
  try {
    out = it->get<T>();
  } catch (const Json::exception&) {
    return Fail(InvalidArgument(std::string("spec key '") + key + "' has the wrong type (" +
                                it->type_name() + ")"));
  }
  return {};
}

Status RejectUnknownKeys(const Json& object, const std::set<std::string>& known,
                         const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    if (!known.contains(key)) {
      return Fail(InvalidArgument("unknown key '" + key + "' in " + where));
    }
  }
  return {};
}

Result<BindMount> ParseMount(const Json& item) {
  if (!item.is_object()) return Fail(InvalidArgument("each of 'mounts' must be an object"));
  MOAT_TRY_VOID(RejectUnknownKeys(item, {"source", "target", "read_only"}, "'mounts'"));
  if (!item.contains("source") || !item.contains("target")) {
    return Fail(
        InvalidArgument("each of 'mounts' needs a 'source' and a 'target': " + item.dump()));
  }
  BindMount mount;
  MOAT_TRY_VOID(ReadKey(item, "source", mount.source));
  MOAT_TRY_VOID(ReadKey(item, "target", mount.target));
  MOAT_TRY_VOID(ReadKey(item, "read_only", mount.read_only));
  return mount;
}

// A limit is a number or "max" (no limit).
template <typename T>
Status ReadLimit(const Json& object, const char* key, std::optional<T>& out) {
  auto it = object.find(key);
  if (it == object.end()) return {};
  if (it->is_string() && it->get<std::string>() == "max") {
    if constexpr (std::is_floating_point_v<T>) {
      out = kNoCpuCap;
    } else {
      out = kUnlimited;
    }
    return {};
  }
  bool ok = std::is_floating_point_v<T> ? it->is_number() : it->is_number_unsigned();
  if (!ok) {
    return Fail(InvalidArgument(std::string("limit '") + key + "' must be " +
                                (std::is_floating_point_v<T> ? "a number" : "a whole number >= 0") +
                                " or \"max\""));
  }
  out = it->get<T>();
  if constexpr (!std::is_floating_point_v<T>) {
    if (*out == kUnlimited) {
      return Fail(InvalidArgument(std::string("limit '") + key +
                                  "' is too large (write \"max\" for no limit)"));
    }
  }
  return {};
}

Json LimitValue(const std::optional<uint64_t>& value) {
  return *value == kUnlimited ? Json("max") : Json(*value);
}

Result<IoDeviceLimit> ParseIoDevice(const Json& item) {
  if (!item.is_object()) return Fail(InvalidArgument("each of 'io_devices' must be an object"));
  MOAT_TRY_VOID(RejectUnknownKeys(
      item, {"device", "read_bps", "write_bps", "read_iops", "write_iops"}, "'io_devices'"));
  IoDeviceLimit device;
  std::string name;
  MOAT_TRY_VOID(ReadKey(item, "device", name));
  MOAT_TRY(device.device, ResolveBlockDevice(name));
  MOAT_TRY_VOID(ReadLimit(item, "read_bps", device.read_bps));
  MOAT_TRY_VOID(ReadLimit(item, "write_bps", device.write_bps));
  MOAT_TRY_VOID(ReadLimit(item, "read_iops", device.read_iops));
  MOAT_TRY_VOID(ReadLimit(item, "write_iops", device.write_iops));
  return device;
}

Result<Limits> ParseLimits(const Json& object) {
  if (!object.is_object()) return Fail(InvalidArgument("'limits' must be an object"));
  MOAT_TRY_VOID(RejectUnknownKeys(object,
                                  {"cpu_percent", "cpu_weight", "memory_max", "memory_high",
                                   "swap_max", "pids_max", "io_weight", "io_devices"},
                                  "'limits'"));
  Limits limits;
  MOAT_TRY_VOID(ReadLimit(object, "cpu_percent", limits.cpu_percent));
  MOAT_TRY_VOID(ReadLimit(object, "cpu_weight", limits.cpu_weight));
  MOAT_TRY_VOID(ReadLimit(object, "memory_max", limits.memory_max));
  MOAT_TRY_VOID(ReadLimit(object, "memory_high", limits.memory_high));
  MOAT_TRY_VOID(ReadLimit(object, "swap_max", limits.swap_max));
  MOAT_TRY_VOID(ReadLimit(object, "pids_max", limits.pids_max));
  MOAT_TRY_VOID(ReadLimit(object, "io_weight", limits.io_weight));
  if (auto it = object.find("io_devices"); it != object.end()) {
    if (!it->is_array()) return Fail(InvalidArgument("'io_devices' must be an array"));
    for (const auto& item : *it) {
      MOAT_TRY(auto device, ParseIoDevice(item));
      limits.io_devices.push_back(std::move(device));
    }
  }
  return limits;
}

// RFC 1123: labels of 1-63 letters, digits and '-', not starting or ending with '-'.
bool IsValidHostname(const std::string& name) {
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('.', start);
    if (end == std::string::npos) end = name.size();
    std::string label = name.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    start = end + 1;
  }
  return true;
}

bool IsAbsoluteCleanPath(const std::string& path) {
  if (path.empty() || path[0] != '/') return false;
  if (path.find('\0') != std::string::npos) return false;
  // No "." or ".." components: a target must not climb out of the new root.
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

Json LimitsToJson(const Limits& limits) {
  Json out = Json::object();
  if (limits.cpu_percent) {
    out["cpu_percent"] = *limits.cpu_percent == kNoCpuCap ? Json("max") : Json(*limits.cpu_percent);
  }
  if (limits.cpu_weight) out["cpu_weight"] = LimitValue(limits.cpu_weight);
  if (limits.memory_max) out["memory_max"] = LimitValue(limits.memory_max);
  if (limits.memory_high) out["memory_high"] = LimitValue(limits.memory_high);
  if (limits.swap_max) out["swap_max"] = LimitValue(limits.swap_max);
  if (limits.pids_max) out["pids_max"] = LimitValue(limits.pids_max);
  if (limits.io_weight) out["io_weight"] = LimitValue(limits.io_weight);
  for (const auto& device : limits.io_devices) {
    Json item = {{"device", device.device}};
    if (device.read_bps) item["read_bps"] = LimitValue(device.read_bps);
    if (device.write_bps) item["write_bps"] = LimitValue(device.write_bps);
    if (device.read_iops) item["read_iops"] = LimitValue(device.read_iops);
    if (device.write_iops) item["write_iops"] = LimitValue(device.write_iops);
    out["io_devices"].push_back(item);
  }
  return out;
}

}  // namespace

Result<SessionSpec> ParseSessionSpecJson(const std::string& text) {
  Json json;
  try {
    json = Json::parse(text);
  } catch (const Json::parse_error& e) {
    return Fail(InvalidArgument(std::string("spec is not valid JSON: ") + e.what()));
  }
  if (!json.is_object()) return Fail(InvalidArgument("spec must be a JSON object"));
  MOAT_TRY_VOID(RejectUnknownKeys(json,
                                  {"id", "user", "root", "hostname", "mounts", "upper_size_bytes",
                                   "seccomp_profile", "env", "limits", "host_dirs", "devices"},
                                  "spec"));
  SessionSpec spec;
  MOAT_TRY_VOID(ReadKey(json, "id", spec.id));
  MOAT_TRY_VOID(ReadKey(json, "user", spec.user));
  MOAT_TRY_VOID(ReadKey(json, "root", spec.root));
  MOAT_TRY_VOID(ReadKey(json, "hostname", spec.hostname));
  MOAT_TRY_VOID(ReadKey(json, "upper_size_bytes", spec.upper_size_bytes));
  MOAT_TRY_VOID(ReadKey(json, "seccomp_profile", spec.seccomp_profile));
  MOAT_TRY_VOID(ReadKey(json, "env", spec.env));
  MOAT_TRY_VOID(ReadKey(json, "host_dirs", spec.host_dirs));
  MOAT_TRY_VOID(ReadKey(json, "devices", spec.devices));
  if (auto it = json.find("mounts"); it != json.end()) {
    if (!it->is_array()) return Fail(InvalidArgument("spec key 'mounts' must be an array"));
    for (const auto& item : *it) {
      MOAT_TRY(auto mount, ParseMount(item));
      spec.mounts.push_back(std::move(mount));
    }
  }
  if (auto it = json.find("limits"); it != json.end()) {
    MOAT_TRY(spec.limits, ParseLimits(*it));
  }
  return spec;
}

std::string SessionSpecToJson(const SessionSpec& spec) {
  Json json;
  json["id"] = spec.id;
  json["user"] = spec.user;
  json["root"] = spec.root;
  json["hostname"] = spec.hostname;
  json["upper_size_bytes"] = spec.upper_size_bytes;
  json["seccomp_profile"] = spec.seccomp_profile;
  json["env"] = spec.env;
  json["mounts"] = Json::array();
  for (const auto& mount : spec.mounts) {
    json["mounts"].push_back(
        {{"source", mount.source}, {"target", mount.target}, {"read_only", mount.read_only}});
  }
  json["limits"] = LimitsToJson(spec.limits);
  json["host_dirs"] = spec.host_dirs;
  json["devices"] = spec.devices;
  return json.dump();
}

bool IsValidSessionId(const std::string& id) {
  if (id.empty() || id.size() > 32) return false;
  auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!ok(id[0])) return false;
  for (char c : id) {
    if (!ok(c) && c != '-') return false;
  }
  return true;
}

std::string GenerateSessionId() {
  unsigned char bytes[5];
  if (getrandom(bytes, sizeof(bytes), 0) != sizeof(bytes)) {
    // getrandom on Linux ≥ 3.17 does not fail for 5 bytes once the pool is ready.
    for (auto& b : bytes) b = static_cast<unsigned char>(rand());
  }
  char text[16];
  std::snprintf(text, sizeof(text), "s%02x%02x%02x%02x%02x", bytes[0], bytes[1], bytes[2], bytes[3],
                bytes[4]);
  return text;
}

Status ValidateSessionSpec(const SessionSpec& spec) {
  if (!spec.id.empty() && !IsValidSessionId(spec.id)) {
    return Fail(InvalidArgument("session id '" + spec.id +
                                "' is invalid: use 1-32 of a-z, 0-9 and '-', starting with a "
                                "letter or digit"));
  }
  if (spec.user.empty()) return Fail(InvalidArgument("no user given: a session needs --user"));
  struct passwd* pw = getpwnam(spec.user.c_str());
  if (pw == nullptr) return Fail(InvalidArgument("unknown user '" + spec.user + "'"));
  if (pw->pw_uid == 0 || pw->pw_gid == 0) {
    return Fail(InvalidArgument("refusing to run a session as user '" + spec.user +
                                "': its uid or gid is 0 (host root)"));
  }
  struct stat st {};
  if (!IsAbsoluteCleanPath(spec.root) || stat(spec.root.c_str(), &st) != 0 ||
      !S_ISDIR(st.st_mode)) {
    return Fail(InvalidArgument("root '" + spec.root + "' is not an existing absolute directory"));
  }
  if (spec.hostname.size() > 64) {
    return Fail(InvalidArgument("hostname '" + spec.hostname + "' is longer than 64 characters"));
  }
  for (char c : spec.hostname) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') {
      return Fail(InvalidArgument("hostname '" + spec.hostname +
                                  "' has a character other than "
                                  "letters, digits, '-' and '.'"));
    }
  }
  if (!spec.hostname.empty() && !IsValidHostname(spec.hostname)) {
    return Fail(InvalidArgument("hostname '" + spec.hostname +
                                "' is not a host name: dot-separated labels of letters, digits "
                                "and '-', none empty and none starting or ending with '-'"));
  }
  if (spec.upper_size_bytes < (1ull << 20) || spec.upper_size_bytes > (64ull << 30)) {
    return Fail(InvalidArgument("upper size (--upper-size, upper_size_bytes) " +
                                std::to_string(spec.upper_size_bytes) +
                                " is outside 1 MiB..64 GiB"));
  }
  for (const auto& mount : spec.mounts) {
    if (!IsAbsoluteCleanPath(mount.source) || stat(mount.source.c_str(), &st) != 0) {
      return Fail(
          InvalidArgument("bind source '" + mount.source + "' is not an existing absolute path"));
    }
    if (!IsAbsoluteCleanPath(mount.target) || mount.target == "/") {
      return Fail(InvalidArgument("bind target '" + mount.target +
                                  "' must be an absolute path other than '/' without '.' or '..'"));
    }
    for (const char* reserved : {"/proc", "/dev", "/sys"}) {
      std::string prefix = reserved;
      if (mount.target == prefix || mount.target.starts_with(prefix + "/")) {
        return Fail(InvalidArgument("bind target '" + mount.target + "' is inside reserved '" +
                                    prefix + "'"));
      }
    }
  }
  for (const auto& [key, value] : spec.env) {
    if (key.empty() || key.find('=') != std::string::npos || key.find('\0') != std::string::npos ||
        value.find('\0') != std::string::npos) {
      return Fail(InvalidArgument("environment variable '" + key + "' has an invalid name"));
    }
  }
  std::set<std::string> host_dirs;
  for (const auto& name : spec.host_dirs) {
    if (!IsValidHostDirName(name)) {
      return Fail(InvalidArgument("host dir '" + name +
                                  "' is invalid: use 1-32 of a-z, 0-9 and '-', starting with a "
                                  "letter, other than 'root'"));
    }
    if (!host_dirs.insert(name).second) {
      return Fail(InvalidArgument("host dir '" + name + "' is given twice"));
    }
  }
  std::set<std::string> devices;
  for (const auto& device : spec.devices) {
    // Each device is kernel attack surface handed to the session: only what a known session
    // kind needs, by name.
    if (device != "/dev/kvm") {
      return Fail(
          InvalidArgument("device '" + device + "' may not enter a wall (allowed: /dev/kvm)"));
    }
    if (!devices.insert(device).second) {
      return Fail(InvalidArgument("device '" + device + "' is given twice"));
    }
  }
  MOAT_TRY_VOID(ValidateLimits(spec.limits));
  if (spec.seccomp_profile != "default") {
    return Fail(
        InvalidArgument("unknown seccomp profile '" + spec.seccomp_profile + "' (known: default)"));
  }
  return {};
}

}  // namespace moat::sandbox
