#include "root_fs.h"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "host_secrets.h"
#include "mount_ops.h"

namespace moat::sandbox::init {
namespace {

constexpr unsigned long kSafe = MS_NOSUID | MS_NODEV;

std::string Merged(const SetupConfig& c) { return c.staging_dir + "/merged"; }
std::string Scratch(const SetupConfig& c, const char* name) {
  return c.staging_dir + "/scratch/" + name;
}

// Nothing we mount may propagate back to the host.
Status MakeMountsPrivate() { return Mount("", "/", nullptr, MS_REC | MS_PRIVATE); }

// One size-limited tmpfs holds the overlay upper and every writable scratch directory, so the
// session's whole scratch space is capped by one number and charged to its memory cgroup.
Status MountScratchTmpfs(const SetupConfig& c) {
  MOAT_TRY_VOID(EnsureMountPoint(c.staging_dir, true));
  MOAT_TRY_VOID(Mount("moat-" + c.id, c.staging_dir, "tmpfs", kSafe,
                      "size=" + std::to_string(c.upper_size_bytes) + ",mode=0755"));
  for (const char* dir : {"upper", "work", "merged", "scratch"}) {
    MOAT_TRY_VOID(EnsureMountPoint(c.staging_dir + "/" + dir, true));
  }
  for (const char* dir : {"tmp", "vartmp", "shm", "run"}) {
    std::string path = Scratch(c, dir);
    MOAT_TRY_VOID(EnsureMountPoint(path, true));
    mode_t mode = std::string(dir) == "run" ? 0755 : 01777;
    if (::chmod(path.c_str(), mode) != 0) return FailErrno("chmod", path);
  }
  std::string user_run = Scratch(c, "run") + "/user/" + std::to_string(c.user.uid);
  MOAT_TRY_VOID(EnsureMountPoint(user_run, true));
  if (::chown(user_run.c_str(), c.user.uid, c.user.gid) != 0 || ::chmod(user_run.c_str(), 0700)) {
    return FailErrno("chown", user_run);
  }
  return {};
}

Status MountOverlayRoot(const SetupConfig& c) {
  std::string options = "lowerdir=" + c.lower_dir + ",upperdir=" + c.staging_dir +
                        "/upper,workdir=" + c.staging_dir + "/work";
  // nosuid: with no_new_privs a setuid binary gains nothing anyway; this is the second lock.
  return Mount("overlay", Merged(c), "overlay", kSafe, options);
}

// Other users' homes, root's home, the host's /run (agent sockets), /tmp and Moat's own run
// and state directories are replaced, not filtered: nothing of them is reachable.
Status MaskHostDirectories(const SetupConfig& c) {
  std::string root = Merged(c);
  for (const char* dir : {"/home", "/root"}) {
    if (!IsDirectory(root + dir)) continue;
    MOAT_TRY_VOID(Mount("tmpfs", root + dir, "tmpfs", kSafe | MS_NOEXEC, "size=64k,mode=0755"));
  }
  MOAT_TRY_VOID(EnsureMountPoint(root + "/run", true));
  MOAT_TRY_VOID(Bind(Scratch(c, "run"), root + "/run", false));
  MOAT_TRY_VOID(EnsureMountPoint(root + "/tmp", true));
  MOAT_TRY_VOID(Bind(Scratch(c, "tmp"), root + "/tmp", false));
  if (IsDirectory(root + "/var/tmp")) {
    MOAT_TRY_VOID(Bind(Scratch(c, "vartmp"), root + "/var/tmp", false));
  }
  for (const auto& hidden : c.hidden_paths) {
    MOAT_TRY_VOID(MaskPath(root + hidden, "/dev/null"));
  }
  return {};
}

Status BindHome(const SetupConfig& c) {
  std::string target = Merged(c) + c.user.home;
  if (!IsDirectory(c.user.home)) {
    return Fail(InvalidArgument("home '" + c.user.home + "' of user '" + c.user.name +
                                "' is not a directory"));
  }
  MOAT_TRY_VOID(EnsureMountPoint(target, true));
  MOAT_TRY_VOID(Bind(c.user.home, target, false));
  // The masking tmpfs on /home was writable only so the home's mount point could be made.
  std::string home_parent = Merged(c) + "/home";
  if (c.user.home.starts_with("/home/")) {
    MOAT_TRY_VOID(Mount("", home_parent, nullptr, MS_REMOUNT | MS_RDONLY | kSafe | MS_NOEXEC));
  }
  return {};
}

// A host device node bound at the same name under `dev` (the wall's /dev).
Status BindHostDevice(const std::string& dev, const std::string& host_path) {
  std::string target = dev + host_path.substr(std::string("/dev").size());
  MOAT_TRY_VOID(EnsureMountPoint(target, false));
  return Bind(host_path, target, false, MS_NOSUID | MS_NOEXEC);
}

// Made, not bound: we are still root of the host's user namespace here, and one mknod costs
// less than a mount point, a bind and a remount (docs/performance.md). The tmpfs belongs to the
// host's user namespace, so the node works after we leave it. Where mknod is refused (Moat
// itself in a container without CAP_MKNOD, a device cgroup denying "m"), the host's node is
// bound instead.
Status MakeDeviceNode(const std::string& dev, const char* name, dev_t device) {
  std::string path = dev + "/" + name;
  if (::mknod(path.c_str(), S_IFCHR | 0666, device) != 0) {
    if (errno != EPERM) return FailErrno("mknod", path);
    return BindHostDevice(dev, std::string("/dev/") + name);
  }
  if (::chmod(path.c_str(), 0666) != 0) return FailErrno("chmod", path);  // past the umask
  return {};
}

// A minimal /dev: the harmless character devices, a private devpts and shared memory.
Status MountDev(const SetupConfig& c) {
  std::string dev = Merged(c) + "/dev";
  MOAT_TRY_VOID(EnsureMountPoint(dev, true));
  MOAT_TRY_VOID(Mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755"));
  const std::pair<const char*, dev_t> kNodes[] = {
      {"null", makedev(1, 3)},   {"zero", makedev(1, 5)},    {"full", makedev(1, 7)},
      {"random", makedev(1, 8)}, {"urandom", makedev(1, 9)}, {"tty", makedev(5, 0)}};
  for (const auto& [name, device] : kNodes) MOAT_TRY_VOID(MakeDeviceNode(dev, name, device));
  // Devices the spec asks for (SessionSpec::devices: /dev/kvm for a VM's QEMU), checked by
  // the launcher to be character devices.
  for (const auto& device : c.devices) MOAT_TRY_VOID(BindHostDevice(dev, device));
  MOAT_TRY_VOID(EnsureMountPoint(dev + "/pts", true));
  MOAT_TRY_VOID(Mount("devpts", dev + "/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                      "newinstance,ptmxmode=0666,mode=0620,gid=" + std::to_string(c.user.gid)));
  MOAT_TRY_VOID(EnsureMountPoint(dev + "/shm", true));
  MOAT_TRY_VOID(Bind(Scratch(c, "shm"), dev + "/shm", false, kSafe | MS_NOEXEC));
  const std::pair<const char*, const char*> links[] = {{"pts/ptmx", "ptmx"},
                                                       {"/proc/self/fd", "fd"},
                                                       {"/proc/self/fd/0", "stdin"},
                                                       {"/proc/self/fd/1", "stdout"},
                                                       {"/proc/self/fd/2", "stderr"}};
  for (const auto& [to, name] : links) {
    std::string path = dev + "/" + name;
    if (::symlink(to, path.c_str()) != 0) return FailErrno("symlink", path);
  }
  return Mount("", dev, nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC);
}

// The paths runc masks or makes read-only (runc libcontainer/specconv defaults).
constexpr const char* kMaskedProcSys[] = {
    "/proc/acpi",          "/proc/asound",        "/proc/kcore",
    "/proc/keys",          "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats",   "/proc/sched_debug",   "/proc/scsi",
    "/proc/sysrq-trigger", "/sys/firmware",       "/sys/devices/virtual/powercap",
    "/sys/kernel/debug",   "/sys/kernel/tracing", "/sys/kernel/security"};
constexpr const char* kReadOnlyProc[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"};

Status MountProc(const SetupConfig& c) {
  std::string proc = Merged(c) + "/proc";
  MOAT_TRY_VOID(EnsureMountPoint(proc, true));
  // We are PID 1 of the new pid namespace: this /proc shows the session's processes only.
  return Mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
}

Status MountSys(const SetupConfig& c) {
  std::string sys = Merged(c) + "/sys";
  MOAT_TRY_VOID(EnsureMountPoint(sys, true));
  // A fresh sysfs shows only the session's own network namespace's devices.
  return Mount("sysfs", sys, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
}

Status MaskKernelInterfaces(const SetupConfig& c) {
  std::string root = Merged(c);
  for (const char* path : kMaskedProcSys) MOAT_TRY_VOID(MaskPath(root + path, "/dev/null"));
  for (const char* path : kReadOnlyProc) {
    std::string target = root + path;
    if (!PathExists(target)) continue;
    MOAT_TRY_VOID(Bind(target, target, true, MS_NOSUID | MS_NODEV | MS_NOEXEC));
  }
  return {};
}

// Mount points are made by path walks before the pivot, where an absolute symlink resolves
// against the host's root. A directory the session's user owns (their home, bound above) may
// hold a symlink they planted; so every existing component of a bind target must be a real
// directory owned by root. The scratch tmpfs is new and empty at this point, so it is safe.
Status CheckTargetPath(const SetupConfig& c, const std::string& target) {
  std::string path = Merged(c);
  size_t pos = 1;
  while (pos <= target.size()) {
    size_t end = target.find('/', pos);
    if (end == std::string::npos) end = target.size();
    // Appended in place: GCC 12 at -O3 sees a false overlap in `"/" + substr` (-Wrestrict).
    path += '/';
    path.append(target, pos, end - pos);
    pos = end + 1;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return {};  // the rest is created by us, as root, in our dirs
      return FailErrno("lstat", path);
    }
    bool last = end == target.size();
    std::string inside = path.substr(Merged(c).size());
    // The scratch mounts are world-writable but new: nothing can have been planted in them.
    bool fresh = inside == "/tmp" || inside == "/var/tmp" || inside == "/dev/shm";
    bool writable_by_others = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && !fresh;
    if (S_ISLNK(st.st_mode) || (!last && (st.st_uid != 0 || writable_by_others))) {
      return Fail(Error(std::make_error_code(std::errc::operation_not_permitted),
                        "bind target '" + target + "' passes through '" + inside +
                            "', a symlink or a directory others than root may write: refusing "
                            "(choose a target outside user-writable directories)"));
    }
  }
  return {};
}

Status BindUserMounts(const SetupConfig& c) {
  for (const auto& mount : c.mounts) {
    MOAT_TRY_VOID(CheckTargetPath(c, mount.target));
    std::string target = Merged(c) + mount.target;
    MOAT_TRY_VOID(EnsureMountPoint(target, IsDirectory(mount.source)));
    MOAT_TRY_VOID(Bind(mount.source, target, mount.read_only));
  }
  return {};
}

// Secrets in the read-only lower: hashes and Moat's own configuration.
Status MaskSecrets(const SetupConfig& c) {
  std::string root = Merged(c);
  for (const char* path : kHostSecretPaths) {
    MOAT_TRY_VOID(MaskPath(root + path, "/dev/null"));
  }
  return {};
}

}  // namespace

Status BuildRoot(const SetupConfig& config) {
  MOAT_TRY_VOID_CTX(MakeMountsPrivate(), "make mounts private");
  MOAT_TRY_VOID_CTX(MountScratchTmpfs(config), "mount scratch tmpfs");
  MOAT_TRY_VOID_CTX(MountOverlayRoot(config), "mount overlay root");
  MOAT_TRY_VOID_CTX(MaskHostDirectories(config), "mask host directories");
  MOAT_TRY_VOID_CTX(BindHome(config), "bind home");
  MOAT_TRY_VOID_CTX(MountDev(config), "mount /dev");
  MOAT_TRY_VOID_CTX(MountProc(config), "mount /proc");
  MOAT_TRY_VOID_CTX(MountSys(config), "mount /sys");
  MOAT_TRY_VOID_CTX(MaskKernelInterfaces(config), "mask kernel interfaces");
  MOAT_TRY_VOID_CTX(BindUserMounts(config), "bind mounts");
  MOAT_TRY_VOID_CTX(MaskSecrets(config), "mask secrets");
  return {};
}

Status PivotIntoRoot(const SetupConfig& config) {
  std::string merged = Merged(config);
  if (::chdir(merged.c_str()) != 0) return FailErrno("chdir", merged);
  // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only the
  // new root (the runc idiom, no temporary directory needed).
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return FailErrno("pivot_root", merged);
  if (::umount2(".", MNT_DETACH) != 0) return FailErrno("umount2", "old root");
  if (::chdir("/") != 0) return FailErrno("chdir", "/");
  return {};
}

}  // namespace moat::sandbox::init
