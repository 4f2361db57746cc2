// cgroup v1 (and the hybrid layout): one directory per controller hierarchy. In the hybrid
// layout the session also gets a group in the controller-less cgroup2 mount, for its PSI files.
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cgroup_driver_base.h"
#include "cgroup_drivers.h"
#include "cgroup_files.h"
#include "cgroup_limit_table.h"
#include "cgroup_usage_parse.h"
#include "moat/common/text.h"

namespace moat::sandbox {
namespace {

constexpr int kFreezeAttempts = 40;  // of 250 ms each: 10 s in all

// Hierarchies Moat uses; missing ones (no blkio in a container, say) are skipped.
constexpr const char* kV1Hierarchies[] = {"cpu",     "cpuacct", "memory", "pids",
                                          "freezer", "blkio",   "unified"};

constexpr const char* kFlatHierarchy = "blkio";
// The hybrid layout's cgroup2 mount, which holds no controllers here but has the PSI files.
constexpr const char* kCgroup2Hierarchy = "unified";

class CgroupV1 final : public CgroupDriverBase {
 public:
  explicit CgroupV1(CgroupOptions options) : options_(std::move(options)) {
    for (const char* hierarchy : kV1Hierarchies) {
      struct stat st {};
      std::string procs = options_.mount_root + "/" + hierarchy + "/cgroup.procs";
      if (::stat(procs.c_str(), &st) == 0) hierarchies_.push_back(hierarchy);
    }
    struct statfs fs {};
    std::string unified = options_.mount_root + "/" + kCgroup2Hierarchy;
    unified_is_cgroup2_ = Has(kCgroup2Hierarchy) && ::statfs(unified.c_str(), &fs) == 0 &&
                          fs.f_type == CGROUP2_SUPER_MAGIC;
  }

  std::string Version() const override { return "v1"; }

  Status Create(const std::string& group) override {
    for (const auto& hierarchy : hierarchies_) {
      MOAT_TRY_VOID_CTX(MakeDirs(Path(hierarchy, group)), "create cgroup '" + group + "'");
    }
    return {};
  }

  Result<Limits> ReadLimits(const std::string& group) const override {
    return ReadLimitsV1([&](const std::string& controller, const std::string& file) {
      return moat::text::ReadFile(Path(controller, group) + "/" + file);
    });
  }

  bool Frozen(const std::string& group) const override {
    if (!Has("freezer")) return false;
    // FREEZING counts: a freeze that timed out leaves the group half-frozen.
    auto state = moat::text::ReadFile(Path("freezer", group) + "/freezer.state");
    return state && !state->starts_with("THAWED");
  }

  std::vector<CounterFile> CounterFiles(const std::string& group) const override {
    const std::pair<const char*, std::pair<const char*, CounterKind>> table[] = {
        {"cpuacct", {"cpuacct.usage", CounterKind::kV1CpuacctUsage}},
        {"cpu", {"cpu.stat", CounterKind::kV1CpuStat}},
        {"memory", {"memory.usage_in_bytes", CounterKind::kV1MemoryUsage}},
        {"memory", {"memory.max_usage_in_bytes", CounterKind::kV1MemoryMaxUsage}},
        {"pids", {"pids.current", CounterKind::kPidsCurrent}},
        {"blkio", {"blkio.throttle.io_service_bytes_recursive", CounterKind::kV1BlkioBytes}},
        {"blkio", {"blkio.throttle.io_serviced_recursive", CounterKind::kV1BlkioOps}},
        {"freezer", {"freezer.state", CounterKind::kV1FreezerState}},
        {"unified", {"cpu.pressure", CounterKind::kCpuPressure}},
        {"unified", {"memory.pressure", CounterKind::kMemoryPressure}},
        {"unified", {"io.pressure", CounterKind::kIoPressure}},
    };
    std::vector<CounterFile> files;
    for (const auto& [hierarchy, file] : table) {
      if (!Has(hierarchy)) continue;
      std::string path = Path(hierarchy, group) + "/" + file.first;
      if (::access(path.c_str(), R_OK) == 0) files.push_back({path, file.second});
    }
    // v1 counts an OOM kill only in the killed task's own group: read every sub-group's too.
    AddOomControlFiles(group, files);
    return files;
  }

  Status Freeze(const std::string& group) override {
    std::string state = Path("freezer", group) + "/freezer.state";
    // FREEZING until every task has stopped; report frozen only when it is. The v1 freezer
    // gives up on a task caught in an uninterruptible sleep (a page fault, a write) and stays
    // FREEZING: writing FROZEN again retries those tasks, so it is written anew every 250 ms
    // (CI saw one stuck for the whole of a single 2 s wait on a loaded machine).
    for (int attempt = 0; attempt < kFreezeAttempts; ++attempt) {
      MOAT_TRY_VOID_CTX(WriteCgroupFile(state, "FROZEN"), "freeze cgroup '" + group + "'");
      bool frozen = WaitUntil(
          [&] {
            auto text = moat::text::ReadFile(state);
            return text && text->starts_with("FROZEN");
          },
          250);
      if (frozen) return {};
    }
    return Fail(InvalidArgument("cgroup '" + group + "' did not freeze within " +
                                std::to_string(kFreezeAttempts / 4) + " s"));
  }

  Status Thaw(const std::string& group) override {
    return WriteCgroupFile(Path("freezer", group) + "/freezer.state", "THAWED");
  }

  std::vector<std::string> ProcsFiles(const std::string& group) const {
    std::vector<std::string> files;
    for (const auto& hierarchy : hierarchies_)
      files.push_back(Path(hierarchy, group) + "/cgroup.procs");
    return files;
  }

  std::vector<std::string> Directories(const std::string& group) const override {
    std::vector<std::string> dirs;
    for (const auto& hierarchy : hierarchies_) {
      if (hierarchy != kFlatHierarchy && hierarchy != kCgroup2Hierarchy) {
        dirs.push_back(Path(hierarchy, group));
      }
    }
    return dirs;
  }

  // v1 blk-throttle rules apply only to the group's own processes, and a removed sub-group's
  // IO counts vanish from its parent: sessions stay whole in blkio.
  // The controller-less cgroup2 hierarchy gives only PSI figures. Session 7 made sessions
  // whole there too (PSI per session, not per application) when applications could enter a
  // sub-group only by cgroup.procs, the kernel's global lock (clone_into_cgroup.h). moat-init
  // may now start them there with clone3 (SeccompAudience); per-application groups here would
  // cost a mkdir and an rmdir per application and are not back yet.
  std::vector<std::string> SessionOnlyDirectories(const std::string& group) const override {
    std::vector<std::string> dirs;
    for (const char* hierarchy : {kFlatHierarchy, kCgroup2Hierarchy}) {
      if (Has(hierarchy)) dirs.push_back(Path(hierarchy, group));
    }
    return dirs;
  }

  std::string Cgroup2Directory(const std::string& group) const override {
    return unified_is_cgroup2_ ? Path(kCgroup2Hierarchy, group) : "";
  }

  // No controller in the cgroup2 mount, so no rule against processes in the session group.
  std::string InitDirectory(const std::string& group) const override {
    return Cgroup2Directory(group);
  }

  std::string SelfMoveFile() const override { return "tasks"; }

  // v1 controllers reach every sub-group; the cgroup2 mount here has none to hand down.
  Status HandControllersDown(const std::string&) override { return {}; }

  Status Delegate(const std::string& group, uid_t uid, gid_t gid) override {
    for (const auto& dir : Directories(group)) {
      // Not "tasks": applications write to the tasks files of their own groups only, which
      // moat-init makes as the user, so the user owns them. Six chowns fewer per wall.
      for (const std::string& path : {dir, dir + "/cgroup.procs"}) {
        if (::chown(path.c_str(), uid, gid) != 0) return FailErrno("chown", path);
      }
    }
    return {};
  }

  Status AddProcess(const std::string& group, pid_t pid) override {
    for (const auto& file : ProcsFiles(group)) {
      MOAT_TRY_VOID(WriteCgroupFile(file, std::to_string(pid)));
    }
    return {};
  }

  bool Populated(const std::string& group) const override {
    if (!Has("pids")) return true;  // no cheap hierarchical count: assume so
    auto count = moat::text::ReadFile(Path("pids", group) + "/pids.current");
    return !count || std::strtoull(count->c_str(), nullptr, 10) > 0;
  }

  Result<std::vector<pid_t>> Processes(const std::string& group) const override {
    return ReadPidList(Path(PidHierarchy(), group) + "/cgroup.procs");
  }

  // Freeze first so that nothing forks between reading the list and the kill.
  Status Kill(const std::string& group) override {
    bool has_freezer = Has("freezer");
    std::string freezer = Path("freezer", group) + "/freezer.state";
    if (has_freezer) (void)WriteCgroupFile(freezer, "FROZEN");
    auto pids = ReadPidList(Path(PidHierarchy(), group) + "/tasks");
    // tasks lists only this group; walk the children too.
    if (auto children = Children(group)) {
      for (const auto& child : *children) (void)Kill(group + "/" + child);
    }
    if (pids) {
      for (pid_t pid : *pids) ::kill(pid, SIGKILL);
    }
    if (has_freezer) (void)WriteCgroupFile(freezer, "THAWED");
    return {};
  }

  Status Destroy(const std::string& group) override {
    for (const auto& hierarchy : hierarchies_) {
      MOAT_TRY_VOID_CTX(RemoveCgroupTree(Path(hierarchy, group)), "remove cgroup '" + group + "'");
    }
    return {};
  }

  bool Exists(const std::string& group) const override {
    for (const auto& hierarchy : hierarchies_) {
      struct stat st {};
      if (::stat(Path(hierarchy, group).c_str(), &st) == 0) return true;
    }
    return false;
  }

 protected:
  Result<std::vector<std::pair<std::string, std::string>>> PlanWrites(
      const std::string& group, const Limits& limits) const override {
    // memsw is memory plus swap: a change of either needs both as they stand.
    V1MemoryNow now;
    if (limits.memory_max || limits.swap_max) {
      std::string dir = Path("memory", group);
      MOAT_TRY(auto text, moat::text::ReadFile(dir + "/memory.limit_in_bytes"));
      MOAT_TRY(now.memory_max, ParseCgroupValue(text));
      // Without swap accounting there is no memsw file, and nothing to keep.
      if (auto memsw = moat::text::ReadFile(dir + "/memory.memsw.limit_in_bytes")) {
        MOAT_TRY(now.memsw_max, ParseCgroupValue(*memsw));
      }
    }
    const uint64_t memory_max = limits.memory_max.value_or(now.memory_max);
    const bool swap_limited = limits.swap_max ? *limits.swap_max != kUnlimited
                                              : limits.memory_max && now.memsw_max != kUnlimited;
    if (swap_limited && memory_max == kUnlimited) {
      return Fail(InvalidArgument(
          "on cgroup v1 a swap limit needs a memory max (the kernel limits memory and swap "
          "together there): give a memory max, or lift the swap limit too"));
    }
    std::vector<std::pair<std::string, std::string>> writes;
    for (const auto& write : LimitWritesV1(limits, now)) {
      writes.emplace_back(Path(write.controller, group) + "/" + write.file, write.value);
    }
    return writes;
  }

  std::string PrimaryDirectory(const std::string& group) const override {
    return Path(PidHierarchy(), group);
  }

 private:
  std::string Path(const std::string& hierarchy, const std::string& group) const {
    return options_.mount_root + "/" + hierarchy + "/" + options_.parent + "/" + group;
  }
  bool Has(const std::string& name) const {
    for (const auto& hierarchy : hierarchies_) {
      if (hierarchy == name) return true;
    }
    return false;
  }
  void AddOomControlFiles(const std::string& group, std::vector<CounterFile>& files) const {
    if (!Has("memory")) return;
    files.push_back({Path("memory", group) + "/memory.oom_control", CounterKind::kV1OomControl});
    if (auto children = Children(group)) {
      for (const auto& child : *children) AddOomControlFiles(group + "/" + child, files);
    }
  }

  std::string PidHierarchy() const {
    return Has("pids") ? "pids" : hierarchies_.empty() ? "cpu" : hierarchies_.front();
  }

  CgroupOptions options_;
  std::vector<std::string> hierarchies_;
  bool unified_is_cgroup2_ = false;
};

}  // namespace

std::unique_ptr<CgroupDriver> MakeCgroupV1(const CgroupOptions& options) {
  return std::make_unique<CgroupV1>(options);
}

}  // namespace moat::sandbox
