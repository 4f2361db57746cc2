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

  // Every counter of one group.
  Result<CgroupUsage> Sample(const std::string& group);
  // One pass over every tracked group: fast counters every pass; slow ones (OOM kills, frozen,
  // PSI: see IsSlowCounter) every kSlowEvery passes, staggered so each pass reads a share of
  // them. Groups that vanished are skipped.
  std::vector<std::pair<std::string, CgroupUsage>> SampleAll();
  static constexpr unsigned kSlowEvery = 4;

 private:
  struct OpenCounter {
    UniqueFd fd;
    CounterKind kind;
    bool of_subgroup = false;  // a v1 application group's memory.oom_control
    uint64_t oom_kills = 0;    // its last reading
  };
  struct TrackedGroup {
    std::vector<OpenCounter> counters;
    CgroupUsage last;  // keeps the slow counters between their reads
    // v1 OOM kills counted in application groups that have gone since (moat-init removes an
    // application's group when it ends): their files read no more, their kills still count.
    uint64_t ended_oom_kills = 0;
  };
  Status Read(TrackedGroup& group, bool include_slow);

  const CgroupDriver& driver_;
  std::map<std::string, TrackedGroup> groups_;
  unsigned pass_ = 0;
};

}  // namespace moat::sandbox
