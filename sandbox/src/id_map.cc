#include "id_map.h"

#include <fcntl.h>
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
    path_ = std::move(other.path_);
    slot_ = other.slot_;
    other.path_.clear();
  }
  return *this;
}

void IdSlotLease::Release() {
  if (!path_.empty()) ::unlink(path_.c_str());
  path_.clear();
}

Result<IdSlotLease> AcquireIdSlot(const std::string& dir, const std::string& owner) {
  for (uint32_t slot = 0; slot < kIdSlotCount; ++slot) {
    std::string path = dir + "/" + std::to_string(slot);
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) {
      if (errno == EEXIST) continue;
      return FailErrno("create id slot lease", path);
    }
    std::string text = owner + "\n";
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      int err = errno;
      ::unlink(path.c_str());
      return FailErrno("write id slot lease", path, err);
    }
    return IdSlotLease(path, slot);
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
  auto lease = text::ReadFile(path);
  if (lease && *lease == owner + "\n") ::unlink(path.c_str());
}

}  // namespace moat::sandbox
