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
  groups_[group] = std::move(counters);
  return {};
}

void UsageSampler::Untrack(const std::string& group) { groups_.erase(group); }

Result<CgroupUsage> UsageSampler::Read(const std::vector<OpenCounter>& counters) const {
  CgroupUsage usage;
  char buffer[4096];
  for (const auto& counter : counters) {
    ssize_t n = ::pread(counter.fd.get(), buffer, sizeof(buffer) - 1, 0);
    if (n < 0) return FailErrno("pread", "cgroup counter");
    ApplyCounter(counter.kind, std::string(buffer, static_cast<size_t>(n)), usage);
  }
  return usage;
}

Result<CgroupUsage> UsageSampler::Sample(const std::string& group) const {
  auto it = groups_.find(group);
  if (it == groups_.end()) return Fail(InvalidArgument("cgroup '" + group + "' is not tracked"));
  return Read(it->second);
}

std::vector<std::pair<std::string, CgroupUsage>> UsageSampler::SampleAll() const {
  std::vector<std::pair<std::string, CgroupUsage>> samples;
  samples.reserve(groups_.size());
  for (const auto& [group, counters] : groups_) {
    if (auto usage = Read(counters)) samples.emplace_back(group, std::move(*usage));
  }
  return samples;
}

}  // namespace moat::sandbox
