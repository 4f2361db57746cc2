// What a session wall is made of. Parsed from JSON (moat-sandbox --spec FILE, the agent) or
// built from CLI flags; Validate() checks it before anything is created.
#pragma once

#include <sys/types.h>

#include <cstdint>
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

// Filled in by issue "Resource control"; today only the upper tmpfs size is enforced here.
struct Limits {
  std::optional<double> cpu_percent;       // percent of one core, may exceed 100
  std::optional<uint64_t> cpu_weight;      // 1..10000, v2 semantics
  std::optional<uint64_t> memory_max;      // bytes
  std::optional<uint64_t> memory_high;     // bytes
  std::optional<uint64_t> swap_max;        // bytes
  std::optional<uint64_t> pids_max;
  std::optional<uint64_t> io_weight;       // 1..10000
};

struct SessionSpec {
  std::string id;                  // [a-z0-9][a-z0-9-]{0,31}; generated when empty
  std::string user;                // host user name; keeps its uid/gid inside the wall
  std::string root = "/";          // read-only lower layer of the root overlay
  std::string hostname;            // defaults to "moat-<id>"
  std::vector<BindMount> mounts;   // extra binds, after the home bind
  uint64_t upper_size_bytes = 256ull << 20;  // writable upper + /tmp + /run + /dev/shm tmpfs
  std::string seccomp_profile = "default";
  std::map<std::string, std::string> env;  // extra environment for applications
  Limits limits;
};

// Parses the JSON form documented in docs/sandbox.md. Unknown keys are errors.
Result<SessionSpec> ParseSessionSpecJson(const std::string& text);
std::string SessionSpecToJson(const SessionSpec& spec);

// Checks names, paths and sizes without touching the system beyond read-only look-ups.
Status ValidateSessionSpec(const SessionSpec& spec);

bool IsValidSessionId(const std::string& id);
std::string GenerateSessionId();

}  // namespace moat::sandbox
