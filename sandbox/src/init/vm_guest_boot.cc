#include "vm_guest_boot.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../cgroup_files.h"
#include "loopback.h"
#include "moat/common/text.h"
#include "moat/common/unique_dir.h"
#include "moat/common/unique_fd.h"
#include "moat/common/vm_display.h"
#include "mount_ops.h"
#include "virtio_ports.h"
#include "vm_guest.h"

namespace moat::sandbox::init {
namespace {

constexpr const char* kNewRoot = "/newroot";
constexpr const char* kInit = "/init";  // this program, in the initramfs
// Where the desktop's relays start moat-init from: the guest's own /run, whatever the export
// holds.
constexpr const char* kSessionInit = "/run/moat-vm/moat-init";
constexpr const char* kNineP = "trans=virtio,version=9p2000.L,access=client,msize=524288";
constexpr const char* kModuleDir = "/lib/modules/moat-vm";
// The smallest free block the balloon reports to the host, 2^5 pages (128 KiB). The kernel's
// default, a pageblock (2 MiB), leaves what boot freed in smaller pieces resident in QEMU
// (about 4 MiB of an idle guest); smaller orders report more often for little more.
constexpr const char* kPageReportingOrder = "5";

void Check(const Status& status) {
  if (!status) FailVmGuest(status.error().message());
}

// Debian's kernel has its virtio, 9p and overlay drivers as modules, listed in load order by
// build-guest.sh; the project's kernel has them built in and its initramfs has no list.
Status LoadModules() {
  const std::string order_path = std::string(kModuleDir) + "/order";
  auto order = text::ReadFile(order_path);
  if (!order) {
    if (order.error().code() == std::errc::no_such_file_or_directory) return {};
    return Fail(std::move(order).error());
  }
  for (auto module : text::Words(*order)) {
    const std::string path = std::string(kModuleDir) + "/" + std::string(module) + ".ko";
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return FailErrno("open module", path);
    if (::syscall(SYS_finit_module, fd.get(), "", 0) != 0 && errno != EEXIST) {
      return FailErrno("finit_module", path);
    }
  }
  return {};
}

// The session's root under /newroot (the mounts listed in vm_guest_boot.h). /dev is the
// devtmpfs mounted first, moved in.
Status MountSessionRoot(const std::string& home) {
  for (const char* dir : {"/lower", "/rw", kNewRoot}) MOAT_TRY_VOID(MakeDirs(dir, 0755));
  // The host's / is read-only on the host's side too (QEMU's readonly=on); the page cache may
  // keep what it read, since it never changes under the guest's feet in a way that matters.
  MOAT_TRY_VOID(
      Mount("moat-root", "/lower", "9p", MS_RDONLY, std::string(kNineP) + ",cache=loose"));
  MOAT_TRY_VOID(Mount("moat-rw", "/rw", "tmpfs", 0, "mode=0755"));
  MOAT_TRY_VOID(MakeDirs("/rw/upper", 0755));
  MOAT_TRY_VOID(MakeDirs("/rw/work", 0755));
  MOAT_TRY_VOID(Mount("moat-root", kNewRoot, "overlay", 0,
                      "lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work"));
  const std::string root = kNewRoot;
  MOAT_TRY_VOID(Mount("moat-home", root + home, "9p", MS_NOSUID | MS_NODEV, kNineP));
  MOAT_TRY_VOID(Mount("proc", root + "/proc", "proc", 0));
  MOAT_TRY_VOID(Mount("sysfs", root + "/sys", "sysfs", 0));
  MOAT_TRY_VOID(Mount("/dev", root + "/dev", nullptr, MS_MOVE));
  MOAT_TRY_VOID(MakeDirs(root + "/dev/pts", 0755));
  MOAT_TRY_VOID(MakeDirs(root + "/dev/shm", 0755));
  MOAT_TRY_VOID(
      Mount("devpts", root + "/dev/pts", "devpts", 0, "newinstance,ptmxmode=0666,mode=0620"));
  MOAT_TRY_VOID(Mount("shm", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
  MOAT_TRY_VOID(Mount("run", root + "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"));
  return Mount("tmp", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
}

// /dev/vportNpM of each virtio-serial port, by the name QEMU gave it (no udev here, so no
// /dev/virtio-ports/ links): the control port, and a desktop's moat.display and moat.viewN.
struct Ports {
  std::string control;
  std::vector<std::string> display;
};

Ports FindPorts() {
  Ports ports;
  for (const auto& port : ListVirtioPorts(std::string(kNewRoot) + "/sys")) {
    if (port.name == kVmControlPortName) ports.control = port.device;
    if (IsVmDisplayPortName(port.name)) ports.display.push_back(port.device);
  }
  return ports;
}

// QEMU names each port in answer to the guest's "port ready", one after the other, and the
// device nodes appear as the ports are added: wait until every port the host made
// (moat.ports=) has its name and the control port its node, a second at most. A desktop's
// port missed here would stay root's, and its relay could not open it.
Result<Ports> AwaitPorts(unsigned named_ports) {
  Ports ports;
  for (int attempt = 0; attempt < 100; ++attempt) {
    ports = FindPorts();
    const size_t named = (ports.control.empty() ? 0 : 1) + ports.display.size();
    if (named >= named_ports && !ports.control.empty() && PathExists(kNewRoot + ports.control)) {
      return ports;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (ports.control.empty())
    return Fail(InvalidArgument("no virtio-serial port named moat.control"));
  return Fail(InvalidArgument("only " + std::to_string(1 + ports.display.size()) + " of " +
                              std::to_string(named_ports) + " virtio-serial ports named in 1 s"));
}

// A desktop's ports carry the user's screen: their relays (moat-init --vm-relay) run as the
// user, so the user gets the ports and the directory Xvnc puts its socket in; no one else in
// the guest does.
Status HandDisplayToUser(const Ports& ports, uid_t uid) {
  if (ports.display.empty()) return {};
  for (const auto& port : ports.display) {
    const std::string path = kNewRoot + port;
    if (::chown(path.c_str(), uid, static_cast<gid_t>(-1)) != 0) return FailErrno("chown", path);
    if (::chmod(path.c_str(), 0600) != 0) return FailErrno("chmod", path);
  }
  const std::string root = kNewRoot;
  MOAT_TRY_VOID(MakeDirs(root + "/run/moat", 0755));
  const std::string dir = root + "/run/moat/display";
  MOAT_TRY_VOID(MakeDirs(dir, 0700));
  if (::chown(dir.c_str(), uid, static_cast<gid_t>(-1)) != 0) return FailErrno("chown", dir);
  return {};
}

// The session's moat-init is this process, which goes on serving once the root is built (no
// exec: under TCG a fresh start of the same program costs about 25 ms of translation again).
// Its file stays in the initramfs and is bound where the desktop's relays start it from.
Status BindSessionInit() {
  const std::string target = std::string(kNewRoot) + kSessionInit;
  MOAT_TRY_VOID(MakeDirs(std::string(kNewRoot) + "/run/moat-vm", 0755));
  UniqueFd mount_point(::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755));
  if (!mount_point) return FailErrno("create", target);
  return Bind(kInit, target, /*read_only=*/true, MS_NOSUID | MS_NODEV);
}

// The balloon's free page reporting (docs/vm.md, "Memory"). The kernel takes the order from the
// driver when the balloon registers, so it is set here, after the probe; a kernel without
// the parameter keeps its default.
void SetPageReportingOrder() {
  const std::string path =
      std::string(kNewRoot) + "/sys/module/page_reporting/parameters/page_reporting_order";
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd) (void)!::write(fd.get(), kPageReportingOrder, std::strlen(kPageReportingOrder));
}

// What switch_root does: the initramfs' files are deleted (their memory is the guest's),
// without crossing into mounted filesystems, which /newroot and the layers under it are. /init
// stays: it is running, and bound into the new root.
void RemoveInitramfs(UniqueFd dir_fd, dev_t rootfs, bool top) {
  UniqueDir dir(::fdopendir(dir_fd.get()));
  if (!dir) return;
  const int fd = dir_fd.Release();  // the stream owns it now
  while (struct dirent* entry = ::readdir(dir.get())) {
    const std::string name = entry->d_name;
    if (name == "." || name == ".." || (top && "/" + name == kInit)) continue;
    struct stat st {};
    if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_dev != rootfs) {
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      UniqueFd child(::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (child) RemoveInitramfs(std::move(child), rootfs, false);
      ::unlinkat(fd, name.c_str(), AT_REMOVEDIR);  // fails, harmlessly, on a mount point
    } else {
      ::unlinkat(fd, name.c_str(), 0);
    }
  }
}

Status SwitchRoot() {
  struct stat rootfs {};
  if (::stat("/", &rootfs) != 0) return FailErrno("stat", "/");
  RemoveInitramfs(UniqueFd(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)), rootfs.st_dev, true);
  if (::chdir(kNewRoot) != 0) return FailErrno("chdir", kNewRoot);
  MOAT_TRY_VOID(Mount(".", "/", nullptr, MS_MOVE));
  if (::chroot(".") != 0) return FailErrno("chroot", kNewRoot);
  if (::chdir("/") != 0) return FailErrno("chdir", "/");
  return {};
}

}  // namespace

std::string BootVmGuest() {
  // The kernel named this process after its file, /init; the guest's ps says what it is.
  ::prctl(PR_SET_NAME, "moat-init");
  Check(MakeDirs("/dev", 0755));
  Check(MakeDirs("/proc", 0555));
  Check(Mount("devtmpfs", "/dev", "devtmpfs", 0));
  Check(Mount("proc", "/proc", "proc", 0));
  // The session (its user, ids and home) is on the kernel command line the host wrote.
  auto guest = VmGuestConfigFromCmdline(text::ReadFirstLine("/proc/cmdline"));
  if (!guest) FailVmGuest(guest.error().message());
  Check(::umount2("/proc", MNT_DETACH) == 0 ? Status{} : FailErrno("umount", "/proc"));
  Check(LoadModules());
  const std::string home = guest->config.user.home;
  if (auto mounted = MountSessionRoot(home); !mounted) {
    FailVmGuest("the session's root, home (" + home +
                "), /proc, /sys, /dev, tmpfs: " + mounted.error().message());
  }
  (void)BringUpLoopback();  // no network either way; lo is for X11 and the session's programs
  auto ports = AwaitPorts(guest->named_ports);
  if (!ports) FailVmGuest(ports.error().message());
  Check(HandDisplayToUser(*ports, guest->config.user.uid));
  SetPageReportingOrder();
  Check(BindSessionInit());
  Check(SwitchRoot());
  return ports->control;
}

}  // namespace moat::sandbox::init
