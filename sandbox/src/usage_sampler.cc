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
  for (const auto& file : driver_.CounterFiles(group)) {
    UniqueFd fd(::open(file.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return FailErrno("open", file.path);
    counters.push_back({std::move(fd), file.kind});
  }
  TrackedGroup tracked;
  tracked.counters = std::move(counters);
  MOAT_TRY_VOID(Read(tracked, true));
  groups_[group] = std::move(tracked);
  return {};
}

void UsageSampler::Untrack(const std::string& group) { groups_.erase(group); }

Status UsageSampler::Read(TrackedGroup& group, bool include_slow) {
  char buffer[4096];
  // Counters that add up over files (v1 OOM kills of sub-groups) start again from zero.
  if (include_slow) group.last.oom_kills = 0;
  for (const auto& counter : group.counters) {
    if (!include_slow && IsSlowCounter(counter.kind)) continue;
    ssize_t n = ::pread(counter.fd.get(), buffer, sizeof(buffer) - 1, 0);
    if (n < 0) return FailErrno("pread", "cgroup counter");
    ApplyCounter(counter.kind, std::string_view(buffer, static_cast<size_t>(n)), group.last);
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
