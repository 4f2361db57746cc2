#include "host_dirs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "moat/common/unique_dir.h"
#include "moat/common/unique_fd.h"

namespace moat::sandbox {
namespace {

// Removes `name` under `parent_fd`: a file, a socket, a symlink (not its target) or a whole
// directory tree (a host dir of an older Moat, without its own tmpfs).
Status RemoveAt(int parent_fd, const std::string& name, int depth) {
  if (::unlinkat(parent_fd, name.c_str(), 0) == 0 || errno == ENOENT) return {};
  if (errno != EISDIR && errno != EPERM) return FailErrno("unlinkat", name);
  if (depth > 64) return Fail(InvalidArgument("directory '" + name + "' is nested too deep"));
  int fd = ::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return FailErrno("openat", name);
  UniqueDir dir(::fdopendir(fd));
  if (!dir) {
    ::close(fd);
    return FailErrno("fdopendir", name);
  }
  while (struct dirent* entry = ::readdir(dir.get())) {
    std::string child = entry->d_name;
    if (child == "." || child == "..") continue;
    MOAT_TRY_VOID_CTX(RemoveAt(::dirfd(dir.get()), child, depth + 1), "in '" + name + "'");
  }
  dir.reset();
  if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return FailErrno("rmdir", name);
  }
  return {};
}

}  // namespace

bool IsValidHostDirName(const std::string& name) {
  if (name.empty() || name.size() > 32 || name == "root") return false;
  if (name[0] < 'a' || name[0] > 'z') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status CreateHostDir(const std::string& session_dir, const std::string& name, uid_t uid,
                     gid_t gid) {
  if (!IsValidHostDirName(name)) return Fail(InvalidArgument("bad host dir '" + name + "'"));
  std::string path = session_dir + "/" + name;
  if (::mkdir(path.c_str(), 0700) != 0) return FailErrno("mkdir", path);
  std::string options = std::string(kHostDirTmpfsOptions) +
                        ",mode=0700,uid=" + std::to_string(uid) + ",gid=" + std::to_string(gid);
  if (::mount("moat-host-dir", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              options.c_str()) != 0) {
    int err = errno;
    ::rmdir(path.c_str());
    return FailErrno("mount tmpfs", path, err);
  }
  return {};
}

Status RemoveHostDirs(const std::string& session_dir) {
  UniqueFd dir_fd(::open(session_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir_fd) return errno == ENOENT ? Status{} : FailErrno("open", session_dir);
  int fd = ::dup(dir_fd.get());
  if (fd < 0) return FailErrno("dup", session_dir);
  UniqueDir dir(::fdopendir(fd));
  if (!dir) {
    ::close(fd);
    return FailErrno("fdopendir", session_dir);
  }
  Status result;
  while (struct dirent* entry = ::readdir(dir.get())) {
    std::string name = entry->d_name;
    // Only the names a spec may give: the staging root and the state files are not ours.
    if (!IsValidHostDirName(name) || entry->d_type != DT_DIR) continue;
    std::string path = session_dir + "/" + name;
    if (::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL && result) {
      result = FailErrno("umount", path);
    }
    if (auto removed = RemoveAt(dir_fd.get(), name, 0); !removed && result) result = removed;
  }
  return result;
}

}  // namespace moat::sandbox
