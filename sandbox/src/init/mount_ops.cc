#include "mount_ops.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../cgroup_files.h"
#include "moat/common/unique_fd.h"

namespace moat::sandbox::init {

Status Mount(const std::string& source, const std::string& target, const char* fstype,
             unsigned long flags, const std::string& data) {
  if (::mount(source.c_str(), target.c_str(), fstype, flags,
              data.empty() ? nullptr : data.c_str()) != 0) {
    std::string call = "mount ";
    call += fstype ? fstype : ((flags & MS_BIND) ? "bind" : "remount");
    if (flags & MS_BIND && !source.empty()) call += " of '" + source + "' on";
    return FailErrno(call, target);
  }
  return {};
}

Status Bind(const std::string& source, const std::string& target, bool read_only,
            unsigned long extra_flags) {
  MOAT_TRY_VOID(Mount(source, target, nullptr, MS_BIND | MS_REC));
  unsigned long flags = MS_BIND | MS_REMOUNT | extra_flags | (read_only ? MS_RDONLY : 0);
  return Mount("", target, nullptr, flags);
}

bool PathExists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Status EnsureMountPoint(const std::string& path, bool directory) {
  MOAT_TRY_VOID(MakeDirs(directory ? path : path.substr(0, path.rfind('/'))));
  if (!directory) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd) return FailErrno("create mount point", path);
  }
  return {};
}

Status MaskPath(const std::string& path, const std::string& dev_null) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};  // nothing there, nothing to hide
  if (S_ISDIR(st.st_mode)) {
    return Mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                 "size=0,mode=0755");
  }
  if (S_ISLNK(st.st_mode)) return {};  // resolves inside the new root
  return Mount(dev_null, path, nullptr, MS_BIND);
}

}  // namespace moat::sandbox::init
