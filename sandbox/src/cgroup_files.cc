#include "cgroup_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "moat/common/text.h"
#include "moat/common/unique_fd.h"

namespace moat::sandbox {

Status WriteCgroupFile(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return FailErrno("open", path);
  if (::write(fd.get(), value.data(), value.size()) < 0) {
    return FailErrno("write '" + value + "' to", path);
  }
  return {};
}

Result<std::vector<pid_t>> ReadPidList(const std::string& path) {
  MOAT_TRY(auto text, moat::text::ReadFile(path));
  std::vector<pid_t> pids;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    if (end > pos) pids.push_back(static_cast<pid_t>(std::stol(text.substr(pos, end - pos))));
    pos = end + 1;
  }
  return pids;
}

Status MakeDirs(const std::string& path, mode_t mode) {
  // Leaf first: the parents usually exist, and each failed mkdir on cgroupfs costs a lookup.
  if (path.empty() || ::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return {};
  if (errno != ENOENT) return FailErrno("mkdir", path);
  MOAT_TRY_VOID(MakeDirs(path.substr(0, path.rfind('/')), mode));
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return FailErrno("mkdir", path);
  return {};
}

namespace {

Status RemoveOnce(const std::string& path) {
  // Most groups have no sub-groups left (moat-init removes its applications' groups): the
  // rmdir alone is enough, and the listing is for when it reports the group busy.
  if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return {};
  if (errno != EBUSY) return FailErrno("rmdir", path);
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) return {};
    return FailErrno("opendir", path);
  }
  std::vector<std::string> children;
  while (struct dirent* entry = ::readdir(dir)) {
    if (entry->d_type == DT_DIR && entry->d_name[0] != '.') children.push_back(entry->d_name);
  }
  ::closedir(dir);
  for (const auto& child : children) MOAT_TRY_VOID(RemoveOnce(path + "/" + child));
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return FailErrno("rmdir", path);
  return {};
}

}  // namespace

Status RemoveCgroupTree(const std::string& path, int wait_ms) {
  for (int waited = 0;; waited += 10) {
    auto status = RemoveOnce(path);
    if (status || status.error().code() != std::errc::device_or_resource_busy ||
        waited >= wait_ms) {
      return status;
    }
    struct timespec ten_ms = {0, 10 * 1000 * 1000};
    nanosleep(&ten_ms, nullptr);
  }
}

}  // namespace moat::sandbox
