// What the launcher tells moat-init before it builds the wall: the spec resolved against the
// host (user ids, paths, cgroup files). Sent as the first message on the setup socket.
#pragma once

#include <sys/types.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "moat/common/error.h"
#include "moat/sandbox/session_spec.h"
#include "user_identity.h"

namespace moat::sandbox {

struct SetupConfig {
  std::string id;
  std::string hostname;
  std::string lower_dir;  // read-only lower of the root overlay
  UserIdentity user;
  std::vector<BindMount> mounts;
  uint64_t upper_size_bytes = 0;
  std::string staging_dir;  // host dir where the root is assembled (inside our mount ns)
  std::string control_socket;
  // The session group's directory in each hierarchy, delegated to the user.
  std::vector<std::string> cgroup_dirs;
  // Hierarchies where moat-init and every application stay in the session group itself.
  std::vector<std::string> cgroup_session_only_dirs;
  // The one of those in a cgroup2 hierarchy, if any: processes enter it only by cgroup.procs
  // or by being started in it.
  std::string cgroup2_dir;
  // Where moat-init lives in that hierarchy (CgroupDriver::InitDirectory): cgroup2_dir itself,
  // or a leaf below it when cgroup2_dir hands controllers down. moat-init was started there
  // when `born_in_cgroup2_init_dir`.
  std::string cgroup2_init_dir;
  bool born_in_cgroup2_init_dir = false;
  // The host made our cgroup namespace at cgroup2_dir, started us in it and had cgroup2_dir
  // hand controllers down (pure v2; cgroup_namespace.h): nothing is left to do in cgroups.
  bool cgroup_namespace_made = false;
  // What a process writes "0" to, to move itself into its group in the other hierarchies
  // (CgroupDriver::SelfMoveFile).
  std::string cgroup_self_move_file = "cgroup.procs";
  std::vector<std::string> hidden_paths;  // host dirs masked inside (run dir, state dirs)
  std::vector<std::string> devices;       // host device nodes bound into /dev (SessionSpec)
  std::map<std::string, std::string> env;
};

nlohmann::json SetupConfigToJson(const SetupConfig& config);
Result<SetupConfig> SetupConfigFromJson(const nlohmann::json& json);

// The fds moat-init finds at exec: the setup socket and the compiled seccomp program (memfd).
inline constexpr int kSetupSocketFd = 3;
inline constexpr int kSeccompProgramFd = 4;

}  // namespace moat::sandbox
