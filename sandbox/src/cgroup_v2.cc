// cgroup v2: one unified tree. Controllers are enabled down the path with subtree_control, and
// processes live only in leaves (the no-internal-processes rule), hence "<session>/init".
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup_drivers.h"
#include "cgroup_files.h"
#include "cgroup_limit_table.h"

namespace moat::sandbox {
namespace {

class CgroupV2 final : public CgroupDriver {
 public:
  explicit CgroupV2(CgroupOptions options) : options_(std::move(options)) {}

  std::string Version() const override { return "v2"; }

  Status Create(const std::string& group) override {
    MOAT_TRY_VOID_CTX(MakeDirs(Path(group)), "create cgroup '" + group + "'");
    MOAT_TRY_VOID_CTX(EnableControllersDownTo(group), "create cgroup '" + group + "'");
    return {};
  }

  Status Apply(const std::string& group, const Limits& limits) override {
    for (const auto& write : LimitWritesV2(limits)) {
      MOAT_TRY_VOID_CTX(WriteCgroupFile(Path(group) + "/" + write.file, write.value),
                        "set limit of cgroup '" + group + "'");
    }
    return {};
  }

  std::vector<std::string> ProcsFiles(const std::string& group) const override {
    return {Path(group) + "/cgroup.procs"};
  }

  Status AddProcess(const std::string& group, pid_t pid) override {
    return WriteCgroupFile(Path(group) + "/cgroup.procs", std::to_string(pid));
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

 private:
  std::string Path(const std::string& group) const {
    return options_.mount_root + "/" + options_.parent + "/" + group;
  }

  // Enables every available controller in each ancestor of `group`, from Moat's parent down.
  Status EnableControllersDownTo(const std::string& group) {
    std::string dir = options_.mount_root;
    std::string relative = options_.parent + "/" + group;
    size_t pos = 0;
    for (;;) {
      MOAT_TRY(auto available, ReadCgroupFile(dir + "/cgroup.controllers"));
      size_t end = relative.find('/', pos);
      if (end == std::string::npos) break;  // the leaf itself needs no subtree_control
      std::string enable;
      for (const char* controller : {"cpu", "memory", "pids", "io"}) {
        if (available.find(controller) != std::string::npos) {
          enable += std::string(enable.empty() ? "+" : " +") + controller;
        }
      }
      if (!enable.empty()) (void)WriteCgroupFile(dir + "/cgroup.subtree_control", enable);
      dir = options_.mount_root + "/" + relative.substr(0, end);
      pos = end + 1;
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
