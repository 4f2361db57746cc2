// One interface over cgroup v1 and v2, chosen once at start-up from statfs. Groups are named
// by a path relative to Moat's parent group ("s1", "s1/init", "s1/app-3"); no caller ever asks
// which version it has.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "moat/common/error.h"
#include "moat/sandbox/session_spec.h"

namespace moat::sandbox {

// What a group has used, read straight from the kernel's counters. Counters are cumulative;
// UsageSampler turns two readings into rates.
struct CgroupUsage {
  uint64_t cpu_usage_us = 0;
  uint64_t cpu_throttled_us = 0;
  uint64_t cpu_nr_throttled = 0;
  uint64_t memory_current = 0;
  uint64_t memory_peak = 0;
  uint64_t oom_kills = 0;
  uint64_t pids_current = 0;
  uint64_t io_read_bytes = 0, io_write_bytes = 0, io_read_ops = 0, io_write_ops = 0;
  // PSI "some" (and memory "full") share of the last 10 s, percent; absent without PSI.
  std::optional<double> cpu_pressure, memory_pressure, memory_full_pressure, io_pressure;
  bool frozen = false;
};

// One kernel file that feeds CgroupUsage, and how to read it.
enum class CounterKind {
  kV1CpuacctUsage,    // cpuacct.usage, nanoseconds
  kV1CpuStat,         // cpu.stat: nr_throttled, throttled_time (ns)
  kV1MemoryUsage,     // memory.usage_in_bytes
  kV1MemoryMaxUsage,  // memory.max_usage_in_bytes
  kV1OomControl,      // memory.oom_control: oom_kill
  kV1BlkioBytes,      // blkio.throttle.io_service_bytes_recursive
  kV1BlkioOps,        // blkio.throttle.io_serviced_recursive
  kV1FreezerState,    // freezer.state
  kV2CpuStat,         // cpu.stat: usage_usec, nr_throttled, throttled_usec
  kV2MemoryCurrent,
  kV2MemoryPeak,
  kV2MemoryEvents,  // memory.events: oom_kill (hierarchical)
  kV2IoStat,
  kV2CgroupEvents,  // cgroup.events: frozen
  kPidsCurrent,
  kCpuPressure,
  kMemoryPressure,
  kIoPressure,
};

struct CounterFile {
  std::string path;
  CounterKind kind;
};

// Folds one file's contents into `usage`. Counters that add up (v1 OOM kills of several
// groups) are added; the rest are set.
void ApplyCounter(CounterKind kind, std::string_view text, CgroupUsage& usage);
// Counters that change rarely or are averaged by the kernel anyway (PSI is recomputed every
// 2 s): samplers may read them less often than every pass.
bool IsSlowCounter(CounterKind kind);

struct CgroupOptions {
  // Moat's parent group, relative to each hierarchy's root (v1) or the unified root (v2).
  std::string parent = "moat";
  // Where the hierarchies are mounted.
  std::string mount_root = "/sys/fs/cgroup";
};

class CgroupDriver {
 public:
  virtual ~CgroupDriver() = default;

  // "v1" or "v2".
  virtual std::string Version() const = 0;
  virtual Status Create(const std::string& group) = 0;
  // Validates, then writes; on a failed write the limits already written are restored, so a
  // refused change changes nothing.
  virtual Status Apply(const std::string& group, const Limits& limits) = 0;
  // Apply for a group made a moment ago, which is removed if this fails: nothing to restore,
  // so the current limits are not read first (12 files on v1, on every wall's path).
  virtual Status ApplyToNewGroup(const std::string& group, const Limits& limits) = 0;
  virtual Result<Limits> ReadLimits(const std::string& group) const = 0;
  // Reads every file of CounterFiles() once.
  Result<CgroupUsage> Usage(const std::string& group) const;
  // Whether the group is frozen or on its way (a freeze that timed out leaves it half-frozen):
  // one freezer file, for a stop, which asks it of every session, suspended or not.
  virtual bool Frozen(const std::string& group) const = 0;
  // The files that make up a group's usage, for samplers that keep them open. Files this host
  // lacks (no PSI, no blkio) are left out.
  virtual std::vector<CounterFile> CounterFiles(const std::string& group) const = 0;
  // Freeze returns once every task is frozen; a frozen group uses no CPU and keeps its memory.
  virtual Status Freeze(const std::string& group) = 0;
  virtual Status Thaw(const std::string& group) = 0;
  // The group's directory in each hierarchy (one on v2) where sessions get sub-groups.
  virtual std::vector<std::string> Directories(const std::string& group) const = 0;
  // Hierarchies where all of a session's processes stay in the session group itself, because
  // the controller's limits would not reach into sub-groups (v1 blkio throttling is flat).
  virtual std::vector<std::string> SessionOnlyDirectories(const std::string& group) const {
    (void)group;
    return {};
  }
  // The group's directory in a cgroup2 hierarchy ("" when there is none): processes are
  // started right in their group there (clone_into_cgroup.h). The hybrid layout's is its
  // controller-less cgroup2 mount.
  virtual std::string Cgroup2Directory(const std::string& group) const = 0;
  // Where in that hierarchy moat-init lives ("" when there is none): the group itself, or
  // on v2, where the group hands controllers down and so may hold no process of its own, the
  // leaf Create made for it. moat-init is started right there.
  virtual std::string InitDirectory(const std::string& group) const = 0;
  // On v2, lets the group's sub-groups have every controller it has. Called while no process
  // is in the group or below it: then Linux 6.0 and later take no global lock for it.
  virtual Status HandControllersDown(const std::string& group) = 0;
  // The file a single-threaded process writes "0" to, to move itself into a group of the
  // other hierarchies. v1's "tasks" moves one thread without the kernel's global lock, which
  // a cgroup.procs write takes and which costs a grace period after a pause.
  virtual std::string SelfMoveFile() const = 0;
  // Lets `uid` create sub-groups and move its own processes between them (systemd's
  // Delegate=): chown of the directories and their cgroup.procs files.
  virtual Status Delegate(const std::string& group, uid_t uid, gid_t gid) = 0;
  // Direct sub-groups (names only).
  virtual Result<std::vector<std::string>> Children(const std::string& group) const = 0;
  virtual Status AddProcess(const std::string& group, pid_t pid) = 0;
  virtual Result<std::vector<pid_t>> Processes(const std::string& group) const = 0;
  // Whether any process lives in the group or below it.
  virtual bool Populated(const std::string& group) const = 0;
  virtual Status Kill(const std::string& group) = 0;
  // Removes the group and its sub-groups, waiting briefly for dying processes to leave.
  virtual Status Destroy(const std::string& group) = 0;
  virtual bool Exists(const std::string& group) const = 0;

  static Result<std::unique_ptr<CgroupDriver>> Detect(const CgroupOptions& options = {});
};

// For a daemon started in a delegated cgroup v2 subtree (systemd's Delegate=yes): moves the
// calling process into a "supervisor" leaf of its own cgroup (a group with controllers for its
// children may hold no process itself) and returns options whose parent is "<own>/moat", so
// that sessions live inside the delegation. On cgroup v1, or when the process is in the root
// cgroup, returns `fallback` unchanged. The caller must be the only process in its cgroup.
Result<CgroupOptions> DelegatedCgroupOptions(const CgroupOptions& fallback = {});

}  // namespace moat::sandbox
