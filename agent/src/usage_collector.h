// Turns the backend's sessions into one wire::UsageBatch per call (the agent calls it once a
// second). Keeps a UsageSampler tracking exactly the sessions the backend lists: new ones are
// tracked, ended ones untracked, and all re-tracked every kRetrackEvery calls so that sub-groups
// created since (cgroup v1 keeps OOM kills per application group) are read too.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "backend.h"
#include "moat/common/wire/messages.h"
#include "moat/sandbox/usage_sampler.h"

namespace moat::agent {

class UsageCollector {
 public:
  using Clock = std::chrono::steady_clock;

  explicit UsageCollector(const Backend& backend)
      : backend_(backend), sampler_(backend.Cgroups()) {}

  // One sample per running session. cpu_percent is over the time since this session's
  // previous sample, on the monotonic clock; a session's first sample reports 0.
  wire::UsageBatch Collect();

  size_t tracked() const { return sessions_.size(); }
  static constexpr unsigned kRetrackEvery = 10;

 private:
  struct Tracked {
    std::string group;
    bool has_previous = false;
    uint64_t last_cpu_usage_us = 0;
    Clock::time_point last_at;
  };
  void Reconcile();
  void Track(const std::string& session, const std::string& group);

  const Backend& backend_;
  sandbox::UsageSampler sampler_;
  std::map<std::string, Tracked> sessions_;  // by session id
  unsigned calls_ = 0;
};

// Percent of one core used between two readings of a cumulative CPU counter; 0 when the clock
// did not advance or the counter went backwards (a group re-created under the same name).
double CpuPercent(uint64_t previous_us, uint64_t current_us,
                  UsageCollector::Clock::duration elapsed);

}  // namespace moat::agent
