// cgroup v1 (and the hybrid layout): one directory per controller hierarchy.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup_drivers.h"
#include "cgroup_files.h"
#include "cgroup_limit_table.h"

namespace moat::sandbox {
namespace {

// Controllers Moat uses; missing ones (no blkio in a container, say) are skipped.
constexpr const char* kV1Controllers[] = {"cpu", "cpuacct", "memory", "pids", "freezer", "blkio"};

class CgroupV1 final : public CgroupDriver {
 public:
  explicit CgroupV1(CgroupOptions options) : options_(std::move(options)) {
    for (const char* controller : kV1Controllers) {
      std::string root = options_.mount_root + "/" + controller;
      struct stat st {};
      if (::stat((root + "/cgroup.procs").c_str(), &st) == 0) controllers_.push_back(controller);
    }
  }

  std::string Version() const override { return "v1"; }

  Status Create(const std::string& group) override {
    for (const auto& controller : controllers_) {
      MOAT_TRY_VOID_CTX(MakeDirs(Path(controller, group)), "create cgroup '" + group + "'");
    }
    return {};
  }

  Status Apply(const std::string& group, const Limits& limits) override {
    for (const auto& write : LimitWritesV1(limits)) {
      MOAT_TRY_VOID_CTX(
          WriteCgroupFile(Path(write.controller, group) + "/" + write.file, write.value),
          "set limit of cgroup '" + group + "'");
    }
    return {};
  }

  std::vector<std::string> ProcsFiles(const std::string& group) const override {
    std::vector<std::string> files;
    for (const auto& controller : controllers_) {
      files.push_back(Path(controller, group) + "/cgroup.procs");
    }
    return files;
  }

  Status AddProcess(const std::string& group, pid_t pid) override {
    for (const auto& file : ProcsFiles(group)) {
      MOAT_TRY_VOID(WriteCgroupFile(file, std::to_string(pid)));
    }
    return {};
  }

  Result<std::vector<pid_t>> Processes(const std::string& group) const override {
    return ReadPidList(Path(PidController(), group) + "/cgroup.procs");
  }

  // Freeze first so that nothing forks between reading the list and the kill.
  Status Kill(const std::string& group) override {
    bool has_freezer = HasController("freezer");
    std::string freezer = Path("freezer", group) + "/freezer.state";
    if (has_freezer) (void)WriteCgroupFile(freezer, "FROZEN");
    MOAT_TRY(auto pids, ReadPidList(Path(PidController(), group) + "/tasks"));
    for (pid_t pid : pids) ::kill(pid, SIGKILL);
    if (has_freezer) (void)WriteCgroupFile(freezer, "THAWED");
    return {};
  }

  Status Destroy(const std::string& group) override {
    for (const auto& controller : controllers_) {
      MOAT_TRY_VOID_CTX(RemoveCgroupTree(Path(controller, group)), "remove cgroup '" + group + "'");
    }
    return {};
  }

  bool Exists(const std::string& group) const override {
    for (const auto& controller : controllers_) {
      struct stat st {};
      if (::stat(Path(controller, group).c_str(), &st) == 0) return true;
    }
    return false;
  }

 private:
  std::string Path(const std::string& controller, const std::string& group) const {
    return options_.mount_root + "/" + controller + "/" + options_.parent + "/" + group;
  }
  bool HasController(const std::string& name) const {
    for (const auto& controller : controllers_) {
      if (controller == name) return true;
    }
    return false;
  }
  std::string PidController() const {
    return HasController("pids") ? "pids" : controllers_.empty() ? "cpu" : controllers_.front();
  }

  CgroupOptions options_;
  std::vector<std::string> controllers_;
};

}  // namespace

std::unique_ptr<CgroupDriver> MakeCgroupV1(const CgroupOptions& options) {
  return std::make_unique<CgroupV1>(options);
}

}  // namespace moat::sandbox
