// What a session wall is made of. Parsed from JSON (moat-sandbox --spec FILE, the agent) or
// built from CLI flags; Validate() checks it before anything is created.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "moat/common/error.h"

namespace moat::sandbox {

struct BindMount {
  std::string source;  // host path
  std::string target;  // path inside the wall
  bool read_only = true;
};

// "No limit" for every byte or count limit, and for the CPU cap.
inline constexpr uint64_t kUnlimited = UINT64_MAX;
inline constexpr double kNoCpuCap = std::numeric_limits<double>::infinity();

// Bandwidth limits of one block device, named "MAJ:MIN".
struct IoDeviceLimit {
  std::string device;
  std::optional<uint64_t> read_bps, write_bps, read_iops, write_iops;  // kUnlimited lifts one
  bool operator==(const IoDeviceLimit&) const = default;
};

// Unset fields are left as they are; a set field is put into force (kUnlimited/kNoCpuCap lift).
struct Limits {
  std::optional<double> cpu_percent;    // percent of one core, may exceed 100
  std::optional<uint64_t> cpu_weight;   // 1..10000, v2 semantics (default 100)
  std::optional<uint64_t> memory_max;   // bytes
  std::optional<uint64_t> memory_high;  // bytes
  std::optional<uint64_t> swap_max;     // bytes
  std::optional<uint64_t> pids_max;
  std::optional<uint64_t> io_weight;  // 1..10000 (default 100)
  std::vector<IoDeviceLimit> io_devices;
  bool operator==(const Limits&) const = default;
};

// Range checks and device look-ups; the first bad value is named in the error.
Status ValidateLimits(const Limits& limits);
// "/dev/vda" or "254:0" → "254:0" of an existing block device.
Result<std::string> ResolveBlockDevice(const std::string& name);

struct SessionSpec {
  std::string id;                            // [a-z0-9][a-z0-9-]{0,31}; generated when empty
  std::string user;                          // host user name; keeps its uid/gid inside the wall
  std::string root = "/";                    // read-only lower layer of the root overlay
  std::string hostname;                      // defaults to "moat-<id>"
  std::vector<BindMount> mounts;             // extra binds, after the home bind
  uint64_t upper_size_bytes = 256ull << 20;  // writable upper + /tmp + /run + /dev/shm tmpfs
  std::string seccomp_profile = "default";
  std::map<std::string, std::string> env;  // extra environment for applications
  Limits limits;
  // Directories shared with the host side only, by name ([a-z][a-z0-9-]{0,31}): each is
  // <session dir>/NAME on the host (the user's, mode 0700, under root's 0700 session dir) and
  // /run/moat/NAME inside the wall. A desktop's RFB socket lives in one ("display").
  std::vector<std::string> host_dirs;
  // Host device nodes bound into the wall's /dev at the same path. Only "/dev/kvm" is allowed:
  // a VM session's QEMU under KVM. Unless the node is open to everyone, its group is kept in the
  // wall (mapped to itself) and becomes a supplementary group of the session's processes, as
  // the device's access is checked against the host's ids.
  std::vector<std::string> devices;
};

// Parses the JSON form documented in docs/sandbox.md. Unknown keys are errors.
Result<SessionSpec> ParseSessionSpecJson(const std::string& text);
std::string SessionSpecToJson(const SessionSpec& spec);

// Checks names, paths and sizes without touching the system beyond read-only look-ups.
Status ValidateSessionSpec(const SessionSpec& spec);

bool IsValidSessionId(const std::string& id);
std::string GenerateSessionId();

}  // namespace moat::sandbox
