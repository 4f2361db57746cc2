#include "guest_cgroups.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cctype>

#include "../cgroup_files.h"
#include "../cgroup_limit_table.h"
#include "moat/common/text.h"
#include "moat/sandbox/guest_limits.h"

namespace moat::sandbox::init {
namespace {

constexpr char kControllers[] = "+cpu +memory +pids";

bool IsAppName(const std::string& app) {
  if (!app.starts_with("app-") || app.size() == 4 || app.size() > 14) return false;
  for (size_t i = 4; i < app.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(app[i]))) return false;
  }
  return true;
}

nlohmann::json ErrorReply(const Error& error) {
  return {{"error", error.message()}, {"errno", error.code().value()}};
}

}  // namespace

Result<GuestCgroups> GuestCgroups::Mount(const std::string& root) {
  struct statfs fs {};
  if (::statfs(root.c_str(), &fs) != 0) return FailErrno("statfs", root);
  if (fs.f_type != CGROUP2_SUPER_MAGIC &&
      ::mount("cgroup2", root.c_str(), "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    return FailErrno("mount cgroup2 on", root);
  }
  MOAT_TRY_VOID(WriteCgroupFile(root + "/cgroup.subtree_control", kControllers));
  std::string apps = root + "/apps";
  if (::mkdir(apps.c_str(), 0755) != 0 && errno != EEXIST) return FailErrno("mkdir", apps);
  MOAT_TRY_VOID(WriteCgroupFile(apps + "/cgroup.subtree_control", kControllers));
  return GuestCgroups(apps);
}

Result<UniqueFd> GuestCgroups::OpenAppsDir() const {
  UniqueFd fd(::open(apps_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return FailErrno("open", apps_);
  return fd;
}

Result<std::string> GuestCgroups::GroupDir(const std::string& app) const {
  if (app.empty()) return apps_;
  if (!IsAppName(app)) {
    return Fail(InvalidArgument("'" + app + "' is not an application group (app-N)"));
  }
  std::string dir = apps_ + "/" + app;
  struct stat info {};
  if (::lstat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return Fail(Error(std::make_error_code(std::errc::no_such_file_or_directory),
                      "no application group '" + app + "' in the guest"));
  }
  return dir;
}

Status GuestCgroups::Apply(const std::string& app, const Limits& limits) const {
  if (HasNonGuestLimits(limits)) {
    return Fail(InvalidArgument("io and swap limits are the host's, not the guest's"));
  }
  MOAT_TRY(auto dir, GroupDir(app));
  for (const auto& write : LimitWritesV2(limits)) {
    MOAT_TRY_VOID(WriteCgroupFile(dir + "/" + write.file, write.value));
  }
  return {};
}

Result<Limits> GuestCgroups::Read(const std::string& app) const {
  MOAT_TRY(auto dir, GroupDir(app));
  return ReadLimitsV2([&dir](const std::string&, const std::string& file) {
    return moat::text::ReadFile(dir + "/" + file);
  });
}

nlohmann::json GuestCgroups::HandleLimitsOp(const nlohmann::json& request) const {
  for (const auto& [key, value] : request.items()) {
    if (key != "op" && key != "app" && key != "set") {
      return ErrorReply(InvalidArgument("limits: unknown key '" + key + "'"));
    }
  }
  const auto app = request.find("app");
  if (app != request.end() && !app->is_string()) {
    return ErrorReply(InvalidArgument("limits: \"app\" must be a string"));
  }
  const std::string group = app == request.end() ? "" : app->get<std::string>();
  // Everything is checked before the first write: a bad request changes nothing.
  if (auto dir = GroupDir(group); !dir) return ErrorReply(dir.error());
  if (const auto set = request.find("set"); set != request.end()) {
    auto limits = GuestLimitsFromJson(*set);
    if (!limits) return ErrorReply(limits.error());
    if (auto applied = Apply(group, *limits); !applied) return ErrorReply(applied.error());
  }
  auto now = Read(group);
  if (!now) return ErrorReply(now.error());
  return {{"limits", GuestLimitsToJson(*now)}};
}

}  // namespace moat::sandbox::init
