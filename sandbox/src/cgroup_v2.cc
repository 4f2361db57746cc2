// cgroup v2: one unified tree. Controllers are enabled down the path with subtree_control, and
// processes live only in leaves (the no-internal-processes rule), hence "<session>/init".
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup_driver_base.h"
#include "cgroup_drivers.h"
#include "cgroup_files.h"
#include "cgroup_limit_table.h"
#include "cgroup_usage_parse.h"
#include "moat/common/text.h"

namespace moat::sandbox {
namespace {

constexpr const char* kInitLeaf = "init";

class CgroupV2 final : public CgroupDriverBase {
 public:
  explicit CgroupV2(CgroupOptions options) : options_(std::move(options)) {}

  std::string Version() const override { return "v2"; }

  Status Create(const std::string& group) override {
    // The leaf too: made here, moat-init can be started in it (clone_into_cgroup.h) rather
    // than move there itself by cgroup.procs.
    MOAT_TRY_VOID_CTX(MakeDirs(InitDirectory(group)), "create cgroup '" + group + "'");
    MOAT_TRY_VOID_CTX(EnableControllersDownTo(group), "create cgroup '" + group + "'");
    return {};
  }

  Result<Limits> ReadLimits(const std::string& group) const override {
    return ReadLimitsV2([&](const std::string&, const std::string& file) {
      return moat::text::ReadFile(Path(group) + "/" + file);
    });
  }

  bool Frozen(const std::string& group) const override {
    // Asked to freeze counts, frozen or not yet: a freeze that timed out leaves it so.
    auto freeze = moat::text::ReadFile(Path(group) + "/cgroup.freeze");
    return freeze && freeze->starts_with("1");
  }

  std::vector<CounterFile> CounterFiles(const std::string& group) const override {
    const std::pair<const char*, CounterKind> table[] = {
        {"cpu.stat", CounterKind::kV2CpuStat},
        {"memory.current", CounterKind::kV2MemoryCurrent},
        {"memory.peak", CounterKind::kV2MemoryPeak},
        {"memory.events", CounterKind::kV2MemoryEvents},
        {"pids.current", CounterKind::kPidsCurrent},
        {"io.stat", CounterKind::kV2IoStat},
        {"cgroup.events", CounterKind::kV2CgroupEvents},
        {"cpu.pressure", CounterKind::kCpuPressure},
        {"memory.pressure", CounterKind::kMemoryPressure},
        {"io.pressure", CounterKind::kIoPressure},
    };
    std::vector<CounterFile> files;
    for (const auto& [file, kind] : table) {
      std::string path = Path(group) + "/" + file;
      if (::access(path.c_str(), R_OK) == 0) files.push_back({path, kind});
    }
    return files;
  }

  Status Freeze(const std::string& group) override {
    MOAT_TRY_VOID_CTX(WriteCgroupFile(Path(group) + "/cgroup.freeze", "1"),
                      "freeze cgroup '" + group + "'");
    bool frozen = WaitUntil(
        [&] {
          auto events = moat::text::ReadFile(Path(group) + "/cgroup.events");
          return events && FindKeyedValue(*events, "frozen").value_or(0) == 1;
        },
        10000);  // a loaded machine (or a TCG guest) can take seconds to reach every task
    if (!frozen) return Fail(InvalidArgument("cgroup '" + group + "' did not freeze within 10 s"));
    return {};
  }

  Status Thaw(const std::string& group) override {
    return WriteCgroupFile(Path(group) + "/cgroup.freeze", "0");
  }

  std::vector<std::string> Directories(const std::string& group) const override {
    return {Path(group)};
  }

  std::string Cgroup2Directory(const std::string& group) const override { return Path(group); }

  std::string InitDirectory(const std::string& group) const override {
    return Path(group) + "/" + kInitLeaf;
  }

  std::string SelfMoveFile() const override { return "cgroup.procs"; }

  Status HandControllersDown(const std::string& group) override {
    MOAT_TRY_VOID_CTX(EnableControllers(Path(group)), "hand controllers down in '" + group + "'");
    return {};
  }

  Status Delegate(const std::string& group, uid_t uid, gid_t gid) override {
    std::string dir = Path(group);
    for (const std::string& path : {dir, dir + "/cgroup.procs", dir + "/cgroup.threads"}) {
      if (::chown(path.c_str(), uid, gid) != 0) return FailErrno("chown", path);
    }
    return {};
  }

  Status AddProcess(const std::string& group, pid_t pid) override {
    return WriteCgroupFile(Path(group) + "/cgroup.procs", std::to_string(pid));
  }

  bool Populated(const std::string& group) const override {
    auto events = moat::text::ReadFile(Path(group) + "/cgroup.events");
    return !events || FindKeyedValue(*events, "populated").value_or(1) != 0;
  }

  Result<std::vector<pid_t>> Processes(const std::string& group) const override {
    return ReadPidList(Path(group) + "/cgroup.procs");
  }

  Status Kill(const std::string& group) override {
    // cgroup.kill (Linux 5.14) kills the whole subtree atomically.
    if (WriteCgroupFile(Path(group) + "/cgroup.kill", "1")) return {};
    MOAT_TRY_VOID(WriteCgroupFile(Path(group) + "/cgroup.freeze", "1"));
    MOAT_TRY(auto pids, ReadPidList(Path(group) + "/cgroup.procs"));
    for (pid_t pid : pids) ::kill(pid, SIGKILL);
    return WriteCgroupFile(Path(group) + "/cgroup.freeze", "0");
  }

  Status Destroy(const std::string& group) override { return RemoveCgroupTree(Path(group)); }

  bool Exists(const std::string& group) const override {
    struct stat st {};
    return ::stat(Path(group).c_str(), &st) == 0;
  }

 protected:
  Result<std::vector<std::pair<std::string, std::string>>> PlanWrites(
      const std::string& group, const Limits& limits) const override {
    std::vector<std::pair<std::string, std::string>> writes;
    for (const auto& write : LimitWritesV2(limits)) {
      writes.emplace_back(Path(group) + "/" + write.file, write.value);
    }
    return writes;
  }

  std::string PrimaryDirectory(const std::string& group) const override { return Path(group); }

 private:
  std::string Path(const std::string& group) const {
    return options_.mount_root + "/" + options_.parent + "/" + group;
  }

  // Enables every available controller in each ancestor of `group`, from the root down.
  Status EnableControllersDownTo(const std::string& group) {
    std::string relative = options_.parent + "/" + group;
    std::string dir = options_.mount_root;
    size_t pos = 0;
    for (;;) {
      size_t end = relative.find('/', pos);
      if (end == std::string::npos) break;  // the leaf itself needs no subtree_control
      MOAT_TRY_VOID(EnableControllers(dir));
      dir = options_.mount_root + "/" + relative.substr(0, end);
      pos = end + 1;
    }
    return EnableControllers(dir);
  }

  Status EnableControllers(const std::string& dir) {
    MOAT_TRY(auto available, moat::text::ReadFile(dir + "/cgroup.controllers"));
    MOAT_TRY(auto enabled, moat::text::ReadFile(dir + "/cgroup.subtree_control"));
    for (const char* controller : {"cpu", "memory", "pids", "io"}) {
      if (available.find(controller) == std::string::npos) continue;
      if (enabled.find(controller) != std::string::npos) continue;
      MOAT_TRY_VOID(
          WriteCgroupFile(dir + "/cgroup.subtree_control", std::string("+") + controller));
    }
    return {};
  }

  CgroupOptions options_;
};

}  // namespace

std::unique_ptr<CgroupDriver> MakeCgroupV2(const CgroupOptions& options) {
  return std::make_unique<CgroupV2>(options);
}

}  // namespace moat::sandbox
