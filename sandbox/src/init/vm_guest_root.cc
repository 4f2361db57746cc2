#include "vm_guest_root.h"

#include <unistd.h>

#include "host_secrets.h"
#include "mount_ops.h"

namespace moat::sandbox::init {
namespace {

constexpr unsigned long kSafe = MS_NOSUID | MS_NODEV;
// Where the home's mount waits while /home is replaced: the guest's own /run.
constexpr const char* kHomeAside = "/run/moat-vm/home";

Status ReplaceDirectory(const char* dir, const char* options, unsigned long flags) {
  if (!IsDirectory(dir)) return {};
  return Mount("tmpfs", dir, "tmpfs", kSafe | flags, options);
}

// An empty /home but for the user's own home: the 9p mount is moved aside, /home replaced,
// the mount moved back onto a fresh mount point, and /home made read-only again.
Status MaskOtherHomes(const std::string& home) {
  if (!home.starts_with("/home/")) return ReplaceDirectory("/home", "size=64k,mode=0755", 0);
  MOAT_TRY_VOID(EnsureMountPoint(kHomeAside, true));
  MOAT_TRY_VOID(Mount(home, kHomeAside, nullptr, MS_MOVE));
  MOAT_TRY_VOID(ReplaceDirectory("/home", "size=64k,mode=0755", 0));
  MOAT_TRY_VOID(EnsureMountPoint(home, true));
  MOAT_TRY_VOID(Mount(kHomeAside, home, nullptr, MS_MOVE));
  ::rmdir(kHomeAside);
  return Mount("", "/home", nullptr, MS_REMOUNT | MS_RDONLY | kSafe | MS_NOEXEC);
}

}  // namespace

Status NarrowGuestRoot(const std::string& home) {
  MOAT_TRY_VOID_CTX(MaskOtherHomes(home), "mask other homes");
  MOAT_TRY_VOID_CTX(ReplaceDirectory("/root", "size=0,mode=0700", MS_RDONLY | MS_NOEXEC),
                    "mask /root");
  for (const char* path : kHostSecretPaths) {
    MOAT_TRY_VOID_CTX(MaskPath(path, "/dev/null"), std::string("mask ") + path);
  }
  return {};
}

}  // namespace moat::sandbox::init
