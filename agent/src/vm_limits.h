// Where each limit of a VM session is enforced (docs/vm.md, "What each limit does in a VM"):
// the host's cgroup that holds QEMU takes what applies to the whole VM (CPU cap and weight,
// memory, io), moat-init's cgroups in the guest what only the guest can count (pids, and every
// limit of one application). Also the sizes chosen from the limits at creation: vCPUs and the
// balloon's target. Pure functions; the backend applies them.
#pragma once

#include <cstdint>

#include "moat/common/error.h"
#include "moat/sandbox/session_spec.h"

namespace moat::agent {

struct VmLimitSplit {
  sandbox::Limits host;   // on the wall's session group (QEMU)
  sandbox::Limits guest;  // on the guest's applications' group, or one application's
};

// The session's limits: pids_max goes to the guest, the rest to the host.
VmLimitSplit SplitSessionLimits(const sandbox::Limits& limits);
// One application's limits: all in the guest; io and swap, which a guest group cannot carry,
// are refused.
Result<sandbox::Limits> ApplicationLimits(const sandbox::Limits& limits);

// vCPUs for a new VM: one per started 100 % of the CPU cap (a 150 % cap gets 2), at least 1
// and at most the host's cores; `uncapped` without a cap.
unsigned VcpusForCap(const sandbox::Limits& limits, unsigned host_cores, unsigned uncapped);

// What QEMU itself needs on top of the guest's RAM (TCG's translation cache, 9p buffers,
// device state): a memory max below guest RAM plus this would make the cgroup reclaim or
// OOM-kill the VM under load rather than the guest's own kernel.
inline constexpr uint64_t kQemuOverheadMiB = 192;
// The least memory max (or high) a VM session may have, at creation and later: the guest's
// smallest RAM plus QEMU's allowance. Below it QEMU itself would be reclaimed or OOM-killed.
inline constexpr uint64_t kVmMemoryFloorMiB = 128 + kQemuOverheadMiB;
// Refuses a memory max or high below kVmMemoryFloorMiB (`max` passes), naming the limit.
Status CheckVmMemoryFloor(const sandbox::Limits& limits);
// The guest's RAM allowed by a memory max: what the balloon leaves the guest, in bytes
// (min(guest RAM, memory max − QEMU's allowance), and never below 64 MiB, below which Debian's
// kernel does not keep running).
uint64_t BalloonTargetBytes(uint64_t guest_ram_bytes, uint64_t memory_max);

}  // namespace moat::agent
