// Samples many groups every second, cheaply: each group's counter files are opened once and
// re-read with pread (cgroup files regenerate on a read from offset 0), so a pass over N
// sessions costs one pread per counter and no path walks.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "moat/common/error.h"
#include "moat/common/unique_fd.h"
#include "moat/sandbox/cgroup_driver.h"

namespace moat::sandbox {

class UsageSampler {
 public:
  explicit UsageSampler(const CgroupDriver& driver) : driver_(driver) {}

  // Opens the group's counter files. Track again to pick up sub-groups created since (cgroup
  // v1 keeps OOM kills per sub-group).
  Status Track(const std::string& group);
  void Untrack(const std::string& group);
  size_t size() const { return groups_.size(); }

  Result<CgroupUsage> Sample(const std::string& group) const;
  // Every tracked group; groups that vanished (their files read as ENODEV) are skipped.
  std::vector<std::pair<std::string, CgroupUsage>> SampleAll() const;

 private:
  struct OpenCounter {
    UniqueFd fd;
    CounterKind kind;
  };
  Result<CgroupUsage> Read(const std::vector<OpenCounter>& counters) const;

  const CgroupDriver& driver_;
  std::map<std::string, std::vector<OpenCounter>> groups_;
};

}  // namespace moat::sandbox
