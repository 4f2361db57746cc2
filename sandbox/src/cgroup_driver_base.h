// What the v1 and v2 drivers share: apply-with-rollback, freeze polling, child listing.
#pragma once

#include <string>

#include "moat/sandbox/cgroup_driver.h"

namespace moat::sandbox {

class CgroupDriverBase : public CgroupDriver {
 public:
  Status Apply(const std::string& group, const Limits& limits) override;
  Status ApplyToNewGroup(const std::string& group, const Limits& limits) override;
  Result<std::vector<std::string>> Children(const std::string& group) const override;

 protected:
  // The ordered writes for `limits`, as (path, value), with the group's current state at hand.
  virtual Result<std::vector<std::pair<std::string, std::string>>> PlanWrites(
      const std::string& group, const Limits& limits) const = 0;
  // The directory used to list children and read shared files.
  virtual std::string PrimaryDirectory(const std::string& group) const = 0;

 private:
  Status ApplyWrites(const std::string& group, const Limits& limits, bool restore_on_failure);
};

// Keeps only the fields of `current` that `wanted` sets: what to restore if applying fails.
Limits SameFieldsFrom(const Limits& wanted, const Limits& current);
// Polls `probe` every millisecond for up to `timeout_ms`.
bool WaitUntil(const std::function<bool()>& probe, int timeout_ms);

}  // namespace moat::sandbox
