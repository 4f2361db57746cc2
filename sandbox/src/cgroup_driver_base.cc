#include "cgroup_driver_base.h"

#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup_files.h"

namespace moat::sandbox {

Limits SameFieldsFrom(const Limits& wanted, const Limits& current) {
  Limits undo;
  if (wanted.cpu_percent) undo.cpu_percent = current.cpu_percent;
  if (wanted.cpu_weight) undo.cpu_weight = current.cpu_weight;
  if (wanted.memory_max) undo.memory_max = current.memory_max;
  if (wanted.memory_high) undo.memory_high = current.memory_high;
  // On v1 a memory max change can also move memsw (memory + swap): its undo restores the swap.
  if (wanted.swap_max || wanted.memory_max) undo.swap_max = current.swap_max;
  if (wanted.pids_max) undo.pids_max = current.pids_max;
  if (wanted.io_weight) undo.io_weight = current.io_weight;
  for (const auto& device : wanted.io_devices) {
    IoDeviceLimit old{device.device, kUnlimited, kUnlimited, kUnlimited, kUnlimited};
    for (const auto& existing : current.io_devices) {
      if (existing.device != device.device) continue;
      old.read_bps = existing.read_bps.value_or(kUnlimited);
      old.write_bps = existing.write_bps.value_or(kUnlimited);
      old.read_iops = existing.read_iops.value_or(kUnlimited);
      old.write_iops = existing.write_iops.value_or(kUnlimited);
    }
    undo.io_devices.push_back(old);
  }
  return undo;
}

Status CgroupDriverBase::Apply(const std::string& group, const Limits& limits) {
  return ApplyWrites(group, limits, /*restore_on_failure=*/true);
}

Status CgroupDriverBase::ApplyToNewGroup(const std::string& group, const Limits& limits) {
  return ApplyWrites(group, limits, /*restore_on_failure=*/false);
}

Status CgroupDriverBase::ApplyWrites(const std::string& group, const Limits& limits,
                                     bool restore_on_failure) {
  MOAT_TRY_VOID(ValidateLimits(limits));
  MOAT_TRY(auto writes, PlanWrites(group, limits));
  // Every file must exist before the first write, or a limit this host lacks would leave the
  // others half-applied.
  for (const auto& [path, value] : writes) {
    if (::access(path.c_str(), W_OK) != 0) {
      std::string dir = path.substr(0, path.rfind('/'));
      if (group.find('/') != std::string::npos && ::access(dir.c_str(), F_OK) != 0) {
        // On v1, blkio (and a hybrid host's cgroup2) hold the session as a whole.
        return Fail(Error(std::make_error_code(std::errc::not_supported),
                          "limit file '" + path.substr(path.rfind('/') + 1) +
                              "' cannot be set for one application on this host's cgroup " +
                              Version() + ": set it on the session"));
      }
      return Fail(Error(std::make_error_code(std::errc::not_supported),
                        "limit file '" + path + "' is not available on this host's cgroup " +
                            Version() + " (controller missing or not enabled)"));
    }
  }
  Limits before;
  if (restore_on_failure) {
    MOAT_TRY(before, ReadLimits(group));
  }
  for (const auto& [path, value] : writes) {
    auto written = WriteCgroupFile(path, value);
    if (!written) {
      if (restore_on_failure) {
        if (auto undo = PlanWrites(group, SameFieldsFrom(limits, before))) {
          for (const auto& [undo_path, old_value] : *undo) {
            (void)WriteCgroupFile(undo_path, old_value);
          }
        }
      }
      return Fail(std::move(written).error().Wrap("set limits of cgroup '" + group + "'"));
    }
  }
  return {};
}

Result<std::vector<std::string>> CgroupDriverBase::Children(const std::string& group) const {
  std::string dir_path = PrimaryDirectory(group);
  DIR* dir = ::opendir(dir_path.c_str());
  if (dir == nullptr) return FailErrno("opendir", dir_path);
  std::vector<std::string> children;
  while (struct dirent* entry = ::readdir(dir)) {
    if (entry->d_type == DT_DIR && entry->d_name[0] != '.') children.push_back(entry->d_name);
  }
  ::closedir(dir);
  return children;
}

bool WaitUntil(const std::function<bool()>& probe, int timeout_ms) {
  for (int waited = 0; waited <= timeout_ms; ++waited) {
    if (probe()) return true;
    struct timespec one_ms = {0, 1000 * 1000};
    nanosleep(&one_ms, nullptr);
  }
  return false;
}

}  // namespace moat::sandbox
