// Creates, finds, lists and ends session walls on this host. State lives in the kernel and in
// the run directory, so another process (the next CLI call, a restarted agent) sees the same
// sessions.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "moat/common/error.h"
#include "moat/sandbox/cgroup_driver.h"
#include "moat/sandbox/session_spec.h"

namespace moat::sandbox {

// Where host id ranges are leased: one place per host, whatever the run directory, because
// two sessions must never share a range even when different managers (the agent, a test,
// an admin's moat-sandbox with its own --run-dir) created them.
inline constexpr const char* kIdLeaseDir = "/run/moat-idranges";

struct ManagerOptions {
  std::string run_dir = "/run/moat";
  std::string id_lease_dir = kIdLeaseDir;
  CgroupOptions cgroups;
  std::string init_path;  // moat-init; found beside the running binary when empty
};

struct SessionInfo {
  std::string id;
  std::string user;
  uid_t uid = 0;
  pid_t pid = 0;            // moat-init on the host
  uint64_t start_time = 0;  // of pid, in clock ticks since boot: guards against pid reuse
  uint32_t id_slot = 0;
  uint32_t host_id_base = 0;  // root inside maps here
  int64_t created_unix = 0;
  bool running = false;
  std::string control_socket;
  std::string cgroup;  // relative group name
  // How moat-init reached its cgroup2 group: "born" there (clone3; on v2 also in the cgroup
  // namespace the host made), so without the kernel's global cgroup lock, or "moved" by
  // cgroup.procs where clone3 failed; "" without a cgroup2 hierarchy.
  std::string cgroup_entry;
};

class SessionManager {
 public:
  static Result<std::unique_ptr<SessionManager>> Open(ManagerOptions options = {});

  // Builds the wall and returns once moat-init reports ready. On failure nothing is left.
  Result<SessionInfo> Create(SessionSpec spec);
  // SIGTERM to the session, SIGKILL after `grace`, then removes cgroup, files and lease.
  Status Stop(const std::string& id, std::chrono::milliseconds grace);
  // Removes what a session that ended by itself left behind. No-op for a running session.
  Status Reap(const std::string& id);
  Result<SessionInfo> Find(const std::string& id) const;
  Result<std::vector<SessionInfo>> List() const;

  // Live resource control. `app` empty: the whole session; otherwise one application's
  // sub-group, named "app-N" or just "N" (the "group" moat-init reported at launch).
  Status SetLimits(const std::string& id, const std::string& app, const Limits& limits);
  Result<Limits> ReadLimits(const std::string& id, const std::string& app) const;
  Result<CgroupUsage> Usage(const std::string& id, const std::string& app) const;
  Result<std::vector<std::string>> Applications(const std::string& id) const;
  Status Freeze(const std::string& id);
  Status Thaw(const std::string& id);

  // Where the host dir `name` of a session (SessionSpec::host_dirs) is on the host.
  std::string HostDirPath(const std::string& id, const std::string& name) const;

  CgroupDriver& cgroups() { return *cgroups_; }
  const ManagerOptions& options() const { return options_; }

 private:
  SessionManager(ManagerOptions options, std::unique_ptr<CgroupDriver> cgroups)
      : options_(std::move(options)), cgroups_(std::move(cgroups)) {}
  std::string SessionDir(const std::string& id) const;
  Status RemoveSessionTraces(const SessionInfo& info);
  // The cgroup of a running session, or of one of its applications.
  Result<std::string> GroupOf(const std::string& id, const std::string& app) const;

  ManagerOptions options_;
  std::unique_ptr<CgroupDriver> cgroups_;
};

}  // namespace moat::sandbox
