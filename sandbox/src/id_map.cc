#include "id_map.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "moat/common/text.h"
#include "moat/common/unique_fd.h"

namespace moat::sandbox {

std::string FormatIdMap(std::vector<uint32_t> keep, uint32_t base) {
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
  std::string map;
  auto line = [&map](uint64_t inside, uint64_t outside, uint64_t count) {
    if (count == 0) return;
    map +=
        std::to_string(inside) + " " + std::to_string(outside) + " " + std::to_string(count) + "\n";
  };
  // The slot's range, with a hole at each kept id below its end; kept ids beyond it follow.
  uint64_t next = 0;
  for (uint32_t id : keep) {
    if (id >= kIdRangeSize) break;
    line(next, base + next, id - next);
    line(id, id, 1);
    next = id + 1ull;
  }
  line(next, base + next, kIdRangeSize - next);
  for (uint32_t id : keep) {
    if (id >= kIdRangeSize) line(id, id, 1);
  }
  return map;
}

std::string FormatIdMap(uint32_t keep, uint32_t base) {
  return FormatIdMap(std::vector<uint32_t>{keep}, base);
}

IdSlotLease& IdSlotLease::operator=(IdSlotLease&& other) noexcept {
  if (this != &other) {
    Release();
    dir_ = std::move(other.dir_);
    owner_ = std::move(other.owner_);
    slot_ = other.slot_;
    other.owner_.clear();
  }
  return *this;
}

void IdSlotLease::Release() {
  if (!owner_.empty()) ReleaseIdSlot(dir_, slot_, owner_);
  owner_.clear();
}

namespace {

// Held across a stale lease's removal and across a release, so that neither removes a lease
// the other has just made. Taking a free slot needs no lock (O_EXCL).
class LeaseDirLock {
 public:
  explicit LeaseDirLock(const std::string& dir)
      : fd_(::open((dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (fd_) ::flock(fd_.get(), LOCK_EX);
  }

 private:
  UniqueFd fd_;  // closing it unlocks
};

bool PathExists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// The owner's line, then the cgroups' (AcquireIdSlot): stale when none of them exists.
bool IsStale(const std::string& lease) {
  auto lines = text::Split(lease, '\n');
  if (lines.size() < 2) return false;
  return std::none_of(lines.begin(), lines.end(),
                      [](std::string_view line) { return PathExists(std::string(line)); });
}

// Removes the lease at `path` if it is stale and still the one that was judged so.
bool RemoveIfStale(const std::string& dir, const std::string& path) {
  auto lease = text::ReadFile(path);
  if (!lease || !IsStale(*lease)) return false;
  LeaseDirLock lock(dir);
  auto again = text::ReadFile(path);
  return again && *again == *lease && IsStale(*again) && ::unlink(path.c_str()) == 0;
}

}  // namespace

Result<IdSlotLease> AcquireIdSlot(const std::string& dir, const std::string& owner,
                                  const std::vector<std::string>& cgroup_dirs) {
  for (uint32_t slot = 0; slot < kIdSlotCount; ++slot) {
    std::string path = dir + "/" + std::to_string(slot);
    auto create = [&path](int& err) {
      UniqueFd made(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
      err = made ? 0 : errno;
      return made;
    };
    int err = 0;
    UniqueFd fd = create(err);
    if (err == EEXIST && RemoveIfStale(dir, path)) fd = create(err);
    if (err == EEXIST) continue;
    if (err != 0) return FailErrno("create id slot lease", path, err);
    std::string text = owner + "\n";
    for (const auto& cgroup_dir : cgroup_dirs) text += cgroup_dir + "\n";
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      int err = errno;
      ::unlink(path.c_str());
      return FailErrno("write id slot lease", path, err);
    }
    return IdSlotLease(dir, owner, slot);
  }
  return Fail(Error(std::make_error_code(std::errc::resource_unavailable_try_again),
                    "all " + std::to_string(kIdSlotCount) + " id ranges are leased in '" + dir +
                        "': stop some sessions"));
}

void ReleaseIdSlot(const std::string& dir, uint32_t slot, const std::string& owner) {
  std::string path = dir + "/" + std::to_string(slot);
  // Two parties can end the same session (a foreground `moat-sandbox run` and the agent
  // reaping it): the second must not free the slot a newer session has taken since, or two
  // walls would share one host id range.
  LeaseDirLock lock(dir);
  auto lease = text::ReadFile(path);
  if (!lease) return;
  // A lease just made may not be written yet: empty, and so nobody's.
  auto lines = text::Split(*lease, '\n');
  if (!lines.empty() && lines.front() == owner) ::unlink(path.c_str());
}

}  // namespace moat::sandbox
