#include "moat/sandbox/usage_sampler.h"

#include <fcntl.h>
#include <unistd.h>

namespace moat::sandbox {

Status UsageSampler::Track(const std::string& group) {
  if (!driver_.Exists(group)) {
    return Fail(Error(std::make_error_code(std::errc::no_such_file_or_directory),
                      "no cgroup '" + group + "' to sample"));
  }
  std::vector<OpenCounter> counters;
  bool group_oom_seen = false;
  for (const auto& file : driver_.CounterFiles(group)) {
    UniqueFd fd(::open(file.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return FailErrno("open", file.path);
    // The group's own memory.oom_control comes before its sub-groups' (CounterFiles).
    bool is_oom = file.kind == CounterKind::kV1OomControl;
    counters.push_back({std::move(fd), file.kind, is_oom && group_oom_seen});
    group_oom_seen = group_oom_seen || is_oom;
  }
  TrackedGroup tracked;
  tracked.counters = std::move(counters);
  MOAT_TRY_VOID(Read(tracked, true));
  // Tracked anew (the collector does so now and then, to see new application groups): the
  // kills of groups that have gone since must not be lost, so the count never goes down.
  if (auto old = groups_.find(group); old != groups_.end()) {
    uint64_t before = old->second.last.oom_kills;
    if (before > tracked.last.oom_kills) {
      tracked.ended_oom_kills = before - tracked.last.oom_kills;
      tracked.last.oom_kills = before;
    }
  }
  groups_[group] = std::move(tracked);
  return {};
}

void UsageSampler::Untrack(const std::string& group) { groups_.erase(group); }

Status UsageSampler::Read(TrackedGroup& group, bool include_slow) {
  char buffer[4096];
  // Counters that add up over files (v1 OOM kills of sub-groups) start again from zero.
  if (include_slow) group.last.oom_kills = group.ended_oom_kills;
  for (size_t i = 0; i < group.counters.size();) {
    OpenCounter& counter = group.counters[i];
    if (!include_slow && IsSlowCounter(counter.kind)) {
      ++i;
      continue;
    }
    ssize_t n = ::pread(counter.fd.get(), buffer, sizeof(buffer) - 1, 0);
    // An application group's memory.oom_control that reads no more: moat-init removed the
    // group when the application ended. That must not cost the session its sample.
    if (n < 0 && counter.of_subgroup) {
      group.ended_oom_kills += counter.oom_kills;
      group.last.oom_kills += counter.oom_kills;
      group.counters.erase(group.counters.begin() + static_cast<long>(i));
      continue;
    }
    if (n < 0) return FailErrno("pread", "cgroup counter");
    std::string_view text(buffer, static_cast<size_t>(n));
    if (counter.kind == CounterKind::kV1OomControl) {
      CgroupUsage alone;
      ApplyCounter(counter.kind, text, alone);
      counter.oom_kills = alone.oom_kills;
    }
    ApplyCounter(counter.kind, text, group.last);
    ++i;
  }
  return {};
}

Result<CgroupUsage> UsageSampler::Sample(const std::string& group) {
  auto it = groups_.find(group);
  if (it == groups_.end()) return Fail(InvalidArgument("cgroup '" + group + "' is not tracked"));
  MOAT_TRY_VOID(Read(it->second, true));
  return it->second.last;
}

std::vector<std::pair<std::string, CgroupUsage>> UsageSampler::SampleAll() {
  std::vector<std::pair<std::string, CgroupUsage>> samples;
  samples.reserve(groups_.size());
  unsigned index = 0;
  ++pass_;
  for (auto& [name, group] : groups_) {
    bool slow = (index++ + pass_) % kSlowEvery == 0;
    if (Read(group, slow)) samples.emplace_back(name, group.last);
  }
  return samples;
}

}  // namespace moat::sandbox
