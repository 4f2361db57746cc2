// Host id ranges for session user namespaces. Each concurrent session leases a slot; root
// inside the wall maps to the slot's unprivileged range, the session's user to itself, so two
// sessions never share a host id other than the user's own.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "moat/common/error.h"

namespace moat::sandbox {

inline constexpr uint32_t kIdRangeSize = 65536;
// Far above the ranges useradd hands out (/etc/subuid starts at 100000 and grows by 65536 per
// user), and below the 32-bit overflow ids.
inline constexpr uint32_t kIdRangeFirstBase = 0x40000000u;
inline constexpr uint32_t kIdSlotCount = 16383;

inline uint32_t HostIdBase(uint32_t slot) { return kIdRangeFirstBase + slot * kIdRangeSize; }

// The text for /proc/PID/uid_map (or gid_map): ids 0..65535 inside map to the slot's range,
// except `keep`, which maps to itself on the host.
std::string FormatIdMap(uint32_t keep, uint32_t base);
// The same with several ids that map to themselves (the user's group and a device's group).
std::string FormatIdMap(std::vector<uint32_t> keep, uint32_t base);

// A leased slot: a file `<dir>/<slot>` created with O_EXCL, so leasing needs no lock and a
// lease survives the process that took it (sessions outlive the CLI and the agent).
class IdSlotLease {
 public:
  IdSlotLease() = default;
  IdSlotLease(std::string dir, std::string owner, uint32_t slot)
      : dir_(std::move(dir)), owner_(std::move(owner)), slot_(slot) {}
  IdSlotLease(const IdSlotLease&) = delete;
  IdSlotLease& operator=(const IdSlotLease&) = delete;
  IdSlotLease(IdSlotLease&& other) noexcept { *this = std::move(other); }
  IdSlotLease& operator=(IdSlotLease&& other) noexcept;
  ~IdSlotLease() { Release(); }

  uint32_t slot() const { return slot_; }
  // Keeps the lease file on destruction: the session now owns it.
  void Persist() { owner_.clear(); }
  // Removes the lease, if it is still this owner's (ReleaseIdSlot).
  void Release();

 private:
  std::string dir_, owner_;  // owner_ empty: nothing to release
  uint32_t slot_ = 0;
};

// `owner` (the session's run directory entry) is written into the lease for admins to read,
// and for ReleaseIdSlot to check; so are the session's `cgroup_dirs`. A lease whose owner
// entry and every one of its cgroup directories are gone is stale (its run directory was
// removed under it): no process of that session can be left, as none outlives its cgroup, so
// its slot is taken again. A lease naming no cgroup directory is never taken. The cgroups must
// exist before the lease does (SessionManager::Create), and `owner` must be absolute.
Result<IdSlotLease> AcquireIdSlot(const std::string& dir, const std::string& owner,
                                  const std::vector<std::string>& cgroup_dirs = {});
// Removes the lease of a slot that a finished session held, if `owner` still holds it.
void ReleaseIdSlot(const std::string& dir, uint32_t slot, const std::string& owner);

}  // namespace moat::sandbox
