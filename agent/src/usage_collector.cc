#include "usage_collector.h"

#include <set>

namespace moat::agent {
namespace {

uint64_t UnixMillis() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

wire::UsageSample ToSample(const std::string& session, const sandbox::CgroupUsage& usage) {
  wire::UsageSample sample;
  sample.session_id = session;
  sample.at = UnixMillis();
  sample.cpu_usage_us = usage.cpu_usage_us;
  sample.memory_current = usage.memory_current;
  sample.memory_peak = usage.memory_peak;
  sample.pids = usage.pids_current;
  sample.io_read_bytes = usage.io_read_bytes;
  sample.io_write_bytes = usage.io_write_bytes;
  sample.io_read_ops = usage.io_read_ops;
  sample.io_write_ops = usage.io_write_ops;
  sample.oom_kills = usage.oom_kills;
  sample.psi = {usage.cpu_pressure, usage.memory_pressure, usage.memory_full_pressure,
                usage.io_pressure};
  return sample;
}

}  // namespace

double CpuPercent(uint64_t previous_us, uint64_t current_us,
                  UsageCollector::Clock::duration elapsed) {
  auto elapsed_us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
  if (elapsed_us <= 0 || current_us < previous_us) return 0;
  return 100.0 * static_cast<double>(current_us - previous_us) / static_cast<double>(elapsed_us);
}

void UsageCollector::Track(const std::string& session, const std::string& group) {
  // A group that cannot be opened (the session is ending) is tried again on the next call.
  if (!sampler_.Track(group)) return;
  Tracked& tracked = sessions_[session];
  if (tracked.group == group) return;  // re-tracked: keep the previous reading
  tracked.group = group;
  tracked.has_previous = false;
}

void UsageCollector::Reconcile() {
  auto listed = backend_.List();
  if (!listed) return;  // keep what is tracked; the next call tries again
  const bool retrack = calls_ % kRetrackEvery == 0;
  std::set<std::string> running;
  for (const auto& session : *listed) {
    if (!session.running || session.cgroup.empty()) continue;
    running.insert(session.session_id);
    auto it = sessions_.find(session.session_id);
    if (it == sessions_.end() || retrack || it->second.group != session.cgroup) {
      if (it != sessions_.end() && it->second.group != session.cgroup) {
        sampler_.Untrack(it->second.group);
        sessions_.erase(it);
      }
      Track(session.session_id, session.cgroup);
    }
  }
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (running.count(it->first) == 0) {
      sampler_.Untrack(it->second.group);
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
}

wire::UsageBatch UsageCollector::Collect() {
  Reconcile();
  ++calls_;
  std::map<std::string, const std::string*> session_of;  // group → session id
  for (const auto& [session, tracked] : sessions_) session_of[tracked.group] = &session;

  wire::UsageBatch batch;
  const Clock::time_point now = Clock::now();
  for (const auto& [group, usage] : sampler_.SampleAll()) {
    auto owner = session_of.find(group);
    if (owner == session_of.end()) continue;
    Tracked& tracked = sessions_[*owner->second];
    wire::UsageSample sample = ToSample(*owner->second, usage);
    // A session's first sample has no rate yet: reporting one over the microseconds since
    // it was tracked would be noise.
    if (tracked.has_previous) {
      sample.cpu_percent =
          CpuPercent(tracked.last_cpu_usage_us, usage.cpu_usage_us, now - tracked.last_at);
    }
    tracked.has_previous = true;
    tracked.last_cpu_usage_us = usage.cpu_usage_us;
    tracked.last_at = now;
    batch.samples.push_back(std::move(sample));
  }
  return batch;
}

}  // namespace moat::agent
