#include "vm_wall.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "moat/common/unix_connect.h"
#include "moat/common/vm_display.h"
#include "moat/common/vm_guest_home.h"
#include "moat/sandbox/control_client.h"

namespace moat::agent::vm {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct HostUser {
  std::string name, home, shell;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

Result<HostUser> LookUpUser(const std::string& name) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  int err = ::getpwnam_r(name.c_str(), &pw, buffer.data(), buffer.size(), &found);
  if (err != 0) return FailErrno("getpwnam_r", name, err);
  if (found == nullptr) return Fail(InvalidArgument("no such user '" + name + "'"));
  HostUser user{pw.pw_name, pw.pw_dir, pw.pw_shell, pw.pw_uid, pw.pw_gid, {}};
  if (user.uid == 0) return Fail(InvalidArgument("a VM session never runs as root"));
  int count = 64;
  user.groups.resize(count);
  if (::getgrouplist(name.c_str(), user.gid, user.groups.data(), &count) < 0) {
    user.groups.resize(count);
    ::getgrouplist(name.c_str(), user.gid, user.groups.data(), &count);
  }
  user.groups.resize(count);
  return user;
}

// Words of QEMU's option syntax and the kernel command line: no separators, no quoting.
Status CheckWord(const std::string& what, const std::string& value) {
  if (value.empty()) return Fail(InvalidArgument(what + " is empty"));
  for (char c : value) {
    if (c <= ' ' || c == ',' || c == '"' || c == '\'' || c == '\\' || c == 0x7f) {
      return Fail(InvalidArgument(what + " '" + value +
                                  "' holds a character QEMU or the "
                                  "kernel command line cannot carry"));
    }
  }
  return {};
}

// The end of a log in the wall's "vm" dir, which the user (and so an escaped QEMU) may write:
// never through a symlink, since the text goes into error messages.
std::string Tail(const std::string& path, size_t bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat info {};
  if (!fd || ::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode)) return "";
  off_t from = info.st_size > static_cast<off_t>(bytes) ? info.st_size - bytes : 0;
  std::string text(static_cast<size_t>(info.st_size - from), '\0');
  ssize_t n = ::pread(fd.get(), text.data(), text.size(), from);
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return text;
}

// TCG's translation cache. QEMU's default reserves up to 1 GiB and keeps what it has filled
// resident, outside the guest's RAM but in the session's cgroup. A session without a desktop
// gets 16 MiB: with the project's kernel its boot fits (same ready time as with 128 MiB; 8 MiB
// made the boot flush and translate again, +400 ms) and an idle VM's Pss drops by 16 MiB
// (docs/vm.md, Memory). A desktop runs Xvnc, openbox and the user's programs, far more code
// to keep translated: 128 MiB. KVM has no such cache.
constexpr unsigned kTcgCacheMiB = 16;
constexpr unsigned kTcgCacheDesktopMiB = 128;

// Where the wall shows QEMU what it needs (SessionSpec mounts and host dirs, all under the
// wall's own /run/moat).
constexpr char kWallVmDir[] = "/run/moat/vm";
constexpr char kWallKernel[] = "/run/moat/guest/vmlinux";
constexpr char kWallInitramfs[] = "/run/moat/guest/initramfs";

// The guest's virtio-serial driver sets up two rings (of 1024 entries on virtio-mmio) for every
// port the device may have (QEMU's default: 31, about 3.6 MiB of guest memory): only port 0
// (reserved for a console), the control port and a desktop's ports. The guest waits for the
// named ones (moat.ports=) before it serves.
int SerialPorts(const VmSpec& spec) { return 1 + VmNamedPorts(spec.display); }

std::vector<std::string> QemuArgv(const VmSpec& spec, const HostUser& user,
                                  const std::string& dir) {
  std::string groups;
  for (gid_t gid : user.groups) groups += (groups.empty() ? "" : ",") + std::to_string(gid);
  std::string cmdline = GuestKernelOptions(spec.image);
  cmdline += " moat.id=" + spec.id + " moat.user=" + user.name +
             " moat.uid=" + std::to_string(user.uid) + " moat.gid=" + std::to_string(user.gid) +
             " moat.groups=" + groups + " moat.home=" + user.home + " moat.shell=" + user.shell +
             " moat.ports=" + std::to_string(VmNamedPorts(spec.display));
  auto argv = QemuMachineArgv(spec);
  argv.insert(argv.begin() + 1, {"-name", "moat-" + spec.id});
  argv.insert(
      argv.end(),
      {"-initrd", spec.image.initramfs, "-append", cmdline, "-serial",
       "file:" + dir + "/console.log",
       // The control port: moat-init's protocol, QEMU listening, the agent connecting
       // (again after a restart).
       "-chardev", "socket,id=control,path=" + dir + "/control.sock,server=on,wait=off", "-device",
       "virtio-serial-device,max_ports=" + std::to_string(SerialPorts(spec)), "-device",
       std::string("virtserialport,chardev=control,name=") + kVmControlPortName, "-qmp",
       "unix:" + dir + "/qmp.sock,server=on,wait=off",
       // The wall's / read-only (twice: QEMU refuses writes, and the wall's root is
       // read-only below its overlay), the home read-write. security_model=none: files are
       // created as QEMU's user, the session's.
       "-fsdev", "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap", "-device",
       "virtio-9p-device,fsdev=root,mount_tag=moat-root", "-fsdev",
       "local,id=home,path=" + user.home + ",security_model=none,multidevs=remap", "-device",
       "virtio-9p-device,fsdev=home,mount_tag=moat-home",
       // Memory max lowered live: the agent inflates the balloon first (vm_backend.cc). No
       // deflate-on-oom: the guest's own OOM killer must act, not take back what the host's
       // cgroup no longer allows. Freed pages go back to the host as the guest frees them.
       "-device", "virtio-balloon-device,free-page-reporting=on",
       // QEMU's own seccomp filter: no setuid, no exec, no obsolete calls, no sched
       // tuning.
       "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"});
  return argv;
}

// The desktop's ports: QEMU accepts on the agent's listening socket, its stdin (moat-init's
// launch passes exactly stdin, stdout and stderr into the wall). A virtio-serial port carries
// one stream and a socket chardev serves one connection, so each viewer (the owner and up to
// kVmDisplayWatchers watchers) needs a port of its own: every port's chardev listens on the
// same fd, and whichever is free accepts the next connection (the gateway admits no more
// viewers than ports; one more waits in the backlog until a port is free).
constexpr int kDisplayListenerFd = 0;
void AddDisplayPorts(std::vector<std::string>& argv) {
  for (int i = 0; i <= kVmDisplayWatchers; ++i) {
    const std::string chardev = "display" + std::to_string(i);
    argv.insert(argv.end(),
                {"-chardev",
                 "socket,id=" + chardev + ",fd=" + std::to_string(kDisplayListenerFd) +
                     ",server=on,wait=off",
                 "-device", "virtserialport,chardev=" + chardev + ",name=" + VmDisplayPortName(i)});
  }
}

// The RFB socket where the display gateway looks for a local desktop, bound by the agent as
// root in a root-only directory: no user, inside the wall or out, can put anything else at
// that path for the gateway (root) to connect to. `display` is a host-dir name, so stopping
// the wall removes it.
Result<UniqueFd> BindDisplaySocket(const std::string& dir) {
  const std::string path = dir + "/rfb.sock";
  if (::mkdir(dir.c_str(), 0700) != 0) return FailErrno("mkdir", dir);
  // Non-blocking: the ports' chardevs all poll this fd, and those that lose the race to a
  // connection must get EAGAIN from accept, not block QEMU's main loop.
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return FailErrno("socket", path);
  MOAT_TRY(auto address, UnixAddress(path));
  if (::bind(fd.get(), reinterpret_cast<struct sockaddr*>(&address), sizeof(address)) != 0) {
    return FailErrno("bind", path);
  }
  if (::chmod(path.c_str(), 0600) != 0) return FailErrno("chmod", path);
  // The backlog is where a viewer waits while every port is taken.
  if (::listen(fd.get(), 4) != 0) return FailErrno("listen", path);
  return fd;
}

// The wall QEMU runs in: the user's own session wall with the guest image bound in read-only
// (it may live anywhere, /tmp included, which the wall masks) and the "vm" host dir.
sandbox::SessionSpec WallSpec(const VmSpec& spec) {
  sandbox::SessionSpec wall;
  wall.id = spec.id;
  wall.user = spec.user;
  wall.hostname = "moat-vm-" + spec.id;
  wall.mounts = {{spec.image.kernel, kWallKernel, true},
                 {spec.image.initramfs, kWallInitramfs, true}};
  for (auto mount : spec.mounts) {
    mount.read_only = true;
    wall.mounts.push_back(std::move(mount));
  }
  // QEMU's own writes (sockets, logs) go to the host dir; the tmpfs is for moat-init's /run
  // and /tmp, so it stays small and is charged to the session's memory group.
  wall.upper_size_bytes = 16ull << 20;
  wall.seccomp_profile = "default";
  wall.limits = spec.limits;
  wall.host_dirs = {kVmHostDir};
  // KVM: QEMU opens /dev/kvm (its group, kvm on Debian, comes into the wall with it).
  if (spec.image.accel == "kvm") wall.devices = {"/dev/kvm"};
  return wall;
}

}  // namespace

std::string GuestKernelOptions(const GuestImage& image) {
  std::string options = "console=ttyS0 quiet panic=-1";
  if (image.tsc_khz) options += " tsc_early_khz=" + std::to_string(image.tsc_khz);
  return options;
}

std::vector<std::string> QemuMachineArgv(const VmSpec& spec) {
  const auto& image = spec.image;
  std::string accel = image.accel;
  if (accel == "tcg") {
    accel += ",tb-size=" + std::to_string(spec.display ? kTcgCacheDesktopMiB : kTcgCacheMiB);
  }
  // microvm: virtio-mmio, no PCI, no firmware; direct kernel boot.
  return {spec.qemu,
          "-M",
          "microvm",
          "-accel",
          accel,
          "-cpu",
          image.accel == "kvm" ? "host" : "max",
          "-smp",
          std::to_string(spec.vcpus),
          "-m",
          std::to_string(spec.memory_mib),
          "-nodefaults",
          "-no-user-config",
          "-nographic",
          "-no-reboot",
          "-kernel",
          image.kernel};
}

Result<GuestImage> GuestImage::Load(const std::string& guest_env) {
  std::ifstream in(guest_env);
  if (!in) return FailErrno("open", guest_env);
  GuestImage image;
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "kernel") image.kernel = value;
    if (key == "initramfs") image.initramfs = value;
    if (key == "accel") image.accel = value;
    if (key == "tsc_khz" && !value.empty()) image.tsc_khz = std::stoull(value);
    if (key == "kernel_package") image.kernel_package = value;
  }
  if (image.kernel.empty() || image.initramfs.empty()) {
    return Fail(InvalidArgument(guest_env + " names no kernel or initramfs"));
  }
  if (image.accel != "kvm" && image.accel != "tcg") {
    return Fail(InvalidArgument(guest_env + ": accel '" + image.accel + "' is not kvm or tcg"));
  }
  return image;
}

Result<std::unique_ptr<VmWall>> VmWall::Start(const VmSpec& spec,
                                              sandbox::SessionManager& manager) {
  if (!sandbox::IsValidSessionId(spec.id)) {
    return Fail(InvalidArgument("bad session id '" + spec.id + "'"));
  }
  if (spec.vcpus < 1 || spec.vcpus > 64) return Fail(InvalidArgument("vcpus out of range"));
  if (spec.memory_mib < 128) return Fail(InvalidArgument("a VM needs at least 128 MiB"));
  MOAT_TRY(auto user, LookUpUser(spec.user));
  MOAT_TRY_VOID(CheckWord("home", user.home));
  if (!IsVmGuestHome(user.home)) {
    return Fail(InvalidArgument("user '" + user.name + "' has the home '" + user.home +
                                "', where a VM guest cannot mount it"));
  }
  MOAT_TRY_VOID(CheckWord("shell", user.shell));

  auto start = Clock::now();
  std::unique_ptr<VmWall> wall(new VmWall(manager));
  MOAT_TRY(auto info, manager.Create(WallSpec(spec)));
  wall->id_ = spec.id;
  wall->wall_ = true;  // from here on the destructor stops it
  wall->dir_ = manager.HostDirPath(spec.id, kVmHostDir);

  // QEMU sees the guest image and its own directory where the wall shows them.
  VmSpec inside = spec;
  inside.image.kernel = kWallKernel;
  inside.image.initramfs = kWallInitramfs;
  auto argv = QemuArgv(inside, user, kWallVmDir);
  if (spec.display) AddDisplayPorts(argv);
  MOAT_TRY_VOID(wall->LaunchQemu(spec, info, argv));

  // QEMU binds the control socket before the guest runs; then moat-init's first answer means
  // the guest is up. A request written early waits in the socket until the guest opens the
  // port.
  auto deadline = start + spec.boot_timeout;
  for (;;) {
    auto control = VmControl::Connect(wall->control_socket());
    if (control) {
      wall->control_.emplace(std::move(*control));
      break;
    }
    struct pollfd exited = {wall->pidfd_.get(), POLLIN, 0};
    if (::poll(&exited, 1, 10) > 0) {
      return Fail(Error(std::make_error_code(std::errc::no_child_process),
                        "QEMU exited before binding its sockets: " + wall->Diagnostics()));
    }
    if (Clock::now() > deadline) {
      return Fail(Error(std::make_error_code(std::errc::timed_out),
                        "QEMU bound no control socket: " + wall->Diagnostics()));
    }
  }
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
  auto info_reply = wall->control_->Call({{"op", "info"}}, left, wall->pidfd_.get());
  if (!info_reply) {
    return Fail(std::move(info_reply)
                    .error()
                    .Wrap("waiting for moat-init in the guest (" + wall->Diagnostics() + ")"));
  }
  if (info_reply->value("id", std::string()) != spec.id) {
    return Fail(InvalidArgument("moat-init answered for session '" +
                                info_reply->value("id", std::string()) + "'"));
  }
  wall->boot_time_ = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  return wall;
}

Status VmWall::LaunchQemu(const VmSpec& spec, const sandbox::SessionInfo& info,
                          const std::vector<std::string>& argv) {
  // Created by root before anything but the wall's moat-init runs: nothing can be planted in
  // the fresh host dir yet, and O_EXCL|O_NOFOLLOW would refuse it anyway.
  const std::string log_path = dir_ + "/qemu.log";
  UniqueFd log(
      ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!log) return FailErrno("open", log_path);
  UniqueFd input;
  if (spec.display) {
    std::string socket = display_socket();
    MOAT_TRY(input, BindDisplaySocket(socket.substr(0, socket.rfind('/'))));
  } else {
    input = UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!input) return FailErrno("open", "/dev/null");
  }
  MOAT_TRY(auto client, sandbox::ControlClient::Connect(info.control_socket));
  MOAT_TRY_VOID(client.SetTimeout(std::chrono::seconds(10)));
  sandbox::LaunchRequest request;
  request.argv = argv;
  // QEMU madvises all guest RAM for huge pages: each 2 MiB region a small guest touches would be
  // resident whole (84 of an idle guest's 105 anonymous MiB were huge pages under TCG).
  request.no_huge_pages = true;
  MOAT_TRY(auto launched, client.Launch(request, input.get(), log.get(), log.get()));
  // moat-init answers once QEMU has exec'd in its own application group, so the group's one
  // process is QEMU: that is its pid on the host. QEMU spawns nothing (-sandbox spawn=deny).
  const std::string group = info.cgroup + "/" + launched.group;
  MOAT_TRY(auto pids, manager_->cgroups().Processes(group));
  if (pids.size() != 1) {
    return Fail(Error(std::make_error_code(std::errc::no_such_process),
                      "QEMU's group '" + group + "' holds " + std::to_string(pids.size()) +
                          " processes, not one: " + Diagnostics()));
  }
  pid_ = pids.front();
  pidfd_ = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
  if (!pidfd_) return FailErrno("pidfd_open", "QEMU " + std::to_string(pid_));
  exited_ = false;
  return {};
}

std::string VmWall::display_socket() const {
  return manager_->options().run_dir + "/sessions/" + id_ + "/display/rfb.sock";
}

bool VmWall::IsVmWall(const sandbox::SessionManager& manager, const std::string& id) {
  struct stat info {};
  std::string dir = manager.HostDirPath(id, kVmHostDir);
  return ::lstat(dir.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

VmWall::~VmWall() {
  KillQemu();
  (void)StopWall();
}

std::string VmWall::Diagnostics() const {
  std::string text = "console: " + Tail(console_log(), 600);
  std::string qemu = Tail(dir_ + "/qemu.log", 600);
  if (!qemu.empty()) text += " qemu: " + qemu;
  return text;
}

// QEMU is the wall's moat-init's child, not ours: its exit is seen, never reaped, here.
bool VmWall::WaitQemu(milliseconds timeout) {
  if (exited_) return true;
  struct pollfd exited = {pidfd_.get(), POLLIN, 0};
  if (::poll(&exited, 1, static_cast<int>(timeout.count())) <= 0) return false;
  exited_ = true;
  return true;
}

void VmWall::KillQemu() {
  if (exited_) return;
  ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
  (void)WaitQemu(std::chrono::seconds(10));
  exited_ = true;
}

bool VmWall::Running() const {
  if (exited_) return false;
  struct pollfd exited = {pidfd_.get(), POLLIN, 0};
  return ::poll(&exited, 1, 0) == 0;
}

void VmWall::Release() {
  exited_ = true;
  wall_ = false;
  control_.reset();
}

Status VmWall::Kill() {
  control_.reset();
  KillQemu();
  return StopWall();
}

Result<uint64_t> ProcessStartTime(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return FailErrno("read", path, ESRCH);
  auto close = line.rfind(')');
  if (close == std::string::npos) return FailErrno("parse", path, EINVAL);
  // Fields after the command: state is field 3, starttime field 22.
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) return std::stoull(field);
  }
  return FailErrno("parse", path, EINVAL);
}

Result<std::unique_ptr<VmWall>> VmWall::Adopt(sandbox::SessionManager& manager,
                                              const std::string& id, QemuProcess qemu) {
  MOAT_TRY(auto info, manager.Find(id));
  if (!info.running) return Fail(InvalidArgument("the wall of VM session '" + id + "' has ended"));
  if (qemu.pid <= 1) return Fail(InvalidArgument("bad QEMU pid for VM session '" + id + "'"));
  MOAT_TRY(auto started, ProcessStartTime(qemu.pid));
  if (started != qemu.start_time) {
    return Fail(Error(std::make_error_code(std::errc::no_such_process),
                      "QEMU " + std::to_string(qemu.pid) + " of '" + id + "' is gone"));
  }
  std::unique_ptr<VmWall> wall(new VmWall(manager));
  wall->pidfd_ = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, qemu.pid, 0)));
  if (!wall->pidfd_) return FailErrno("pidfd_open", std::to_string(qemu.pid));
  // Checked again now that the pidfd holds it: the pid cannot be reused any more.
  MOAT_TRY(auto again, ProcessStartTime(qemu.pid));
  if (again != qemu.start_time) return FailErrno("adopt", id, ESRCH);
  wall->id_ = id;
  wall->dir_ = manager.HostDirPath(id, kVmHostDir);
  wall->pid_ = qemu.pid;
  wall->exited_ = false;
  // Not ours to end on a failed adoption (wall_ stays false): End() decides.
  MOAT_TRY(auto control, VmControl::Connect(wall->control_socket()));
  wall->control_.emplace(std::move(control));
  auto reply = wall->control_->Call({{"op", "info"}}, std::chrono::seconds(5), wall->pidfd_.get());
  if (!reply) {
    wall->Release();
    return Fail(std::move(reply).error().Wrap("moat-init of VM session '" + id + "'"));
  }
  if (reply->value("id", std::string()) != id) {
    wall->Release();
    return Fail(InvalidArgument("moat-init of VM session '" + id + "' answers for '" +
                                reply->value("id", std::string()) + "'"));
  }
  wall->wall_ = true;
  return wall;
}

Status VmWall::StopWall() {
  if (!wall_) return {};
  wall_ = false;
  control_.reset();
  // QEMU is gone or killed: the wall's moat-init has nothing left to wait for.
  return manager_->Stop(id_, std::chrono::milliseconds(500));
}

Result<nlohmann::json> VmWall::Qmp(const std::string& command, milliseconds timeout,
                                   const nlohmann::json& arguments) {
  MOAT_TRY(auto qmp, QmpClient::Connect(qmp_socket(), timeout));
  return qmp.Execute(command, timeout, arguments);
}

Status VmWall::Shutdown(milliseconds grace) {
  Status outcome;
  if (!exited_ && control_) {
    auto asked = control_->Call({{"op", "shutdown"}, {"grace_ms", grace.count()}},
                                std::chrono::seconds(10), pidfd_.get());
    // moat-init powers the guest off once every process is gone.
    if (asked && WaitQemu(grace + std::chrono::seconds(30))) return StopWall();
    if (!asked) outcome = Fail(std::move(asked).error().Wrap("shutdown"));
  }
  control_.reset();
  if (!exited_ && Qmp("quit") && WaitQemu(std::chrono::seconds(5))) {
    MOAT_TRY_VOID(StopWall());
    return outcome;
  }
  bool killed = !exited_;
  KillQemu();
  MOAT_TRY_VOID(StopWall());
  if (killed && outcome) {
    return Fail(Error(std::make_error_code(std::errc::timed_out),
                      "the guest did not power off: QEMU was killed"));
  }
  return outcome;
}

}  // namespace moat::agent::vm
