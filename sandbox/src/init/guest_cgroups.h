// A VM guest's own cgroups, which moat-init keeps as the guest's PID 1: cgroup2 mounted at
// /sys/fs/cgroup with the cpu, memory and pids controllers enabled, one group "apps" that holds
// every application (the session's share of the guest: its pids_max) and an "app-N" group per
// application below it, as a sandbox's moat-init has them on the host. The host changes their
// limits with the control protocol's "limits" op (moat/sandbox/guest_limits.h). The guest's
// kernel threads and moat-init stay in the root group, outside every limit.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "moat/common/error.h"
#include "moat/common/unique_fd.h"
#include "moat/sandbox/session_spec.h"

namespace moat::sandbox::init {

class GuestCgroups {
 public:
  // Mounts cgroup2 at `root` (unless it is mounted there already), enables the controllers and
  // makes the applications' group.
  static Result<GuestCgroups> Mount(const std::string& root = "/sys/fs/cgroup");

  // The applications' group, for AppSpawn's cgroup_dirs (their app-N groups go below it).
  Result<UniqueFd> OpenAppsDir() const;
  // The "limits" op: validates the whole request first, so that bad input changes nothing,
  // then applies "set" to the group and answers with its limits.
  nlohmann::json HandleLimitsOp(const nlohmann::json& request) const;
  // Applies `limits` to `app` ("" the applications' group, "app-N" one application).
  Status Apply(const std::string& app, const Limits& limits) const;
  Result<Limits> Read(const std::string& app) const;

 private:
  explicit GuestCgroups(std::string apps) : apps_(std::move(apps)) {}
  // The directory of `app`, which must exist: "" or "app-N" only.
  Result<std::string> GroupDir(const std::string& app) const;

  std::string apps_;
};

}  // namespace moat::sandbox::init
