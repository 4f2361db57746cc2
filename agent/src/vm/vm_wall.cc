#include "vm_wall.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

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

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

std::string Tail(const std::string& path, size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > bytes) text.erase(0, text.size() - bytes);
  return text;
}

// TCG's translation cache. QEMU's default reserves up to 1 GiB and keeps what it has filled
// resident, outside the guest's RAM but in the session's cgroup, where vm_backend.cc allows QEMU
// 192 MiB beyond the guest. A boot fills about 46 MiB; a smaller cap makes the boot flush and
// translate again (16 MiB: -31 MiB of RSS but +250 ms to ready under TCG; docs/vm.md).
constexpr unsigned kTcgCacheMiB = 128;

std::vector<std::string> QemuArgv(const VmSpec& spec, const HostUser& user,
                                  const std::string& dir) {
  std::string groups;
  for (gid_t gid : user.groups) groups += (groups.empty() ? "" : ",") + std::to_string(gid);
  std::string cmdline = GuestKernelOptions(spec.image);
  cmdline += " moat.id=" + spec.id + " moat.user=" + user.name +
             " moat.uid=" + std::to_string(user.uid) + " moat.gid=" + std::to_string(user.gid) +
             " moat.groups=" + groups + " moat.home=" + user.home + " moat.shell=" + user.shell;
  auto argv = QemuMachineArgv(spec);
  argv.insert(argv.begin() + 1, {"-name", "moat-" + spec.id});
  argv.insert(
      argv.end(),
      {"-initrd", spec.image.initramfs, "-append", cmdline, "-serial",
       "file:" + dir + "/console.log",
       // The control port: moat-init's protocol, QEMU listening, the agent connecting
       // (again after a restart).
       "-chardev", "socket,id=control,path=" + dir + "/control.sock,server=on,wait=off", "-device",
       "virtio-serial-device", "-device", "virtserialport,chardev=control,name=moat.control",
       "-qmp", "unix:" + dir + "/qmp.sock,server=on,wait=off",
       // The host's / read-only (twice: QEMU refuses writes, and it runs as the user),
       // the home read-write. security_model=none: files are created as QEMU's user,
       // the session's.
       "-fsdev", "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap", "-device",
       "virtio-9p-device,fsdev=root,mount_tag=moat-root", "-fsdev",
       "local,id=home,path=" + user.home + ",security_model=none,multidevs=remap", "-device",
       "virtio-9p-device,fsdev=home,mount_tag=moat-home",
       // QEMU's own seccomp filter: no setuid, no exec, no obsolete calls, no sched
       // tuning.
       "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"});
  return argv;
}

// The desktop's port: QEMU accepts on the agent's listening socket, passed as fd 3. A
// virtio-serial port carries one stream, so QEMU serves one viewer at a time; the next waits
// in the listen backlog until the first leaves.
constexpr int kDisplayListenerFd = 3;
void AddDisplayPort(std::vector<std::string>& argv) {
  argv.insert(argv.end(),
              {"-chardev",
               "socket,id=display,fd=" + std::to_string(kDisplayListenerFd) + ",server=on,wait=off",
               "-device", "virtserialport,chardev=display,name=moat.display"});
}

}  // namespace

std::string GuestKernelOptions(const GuestImage& image) {
  std::string options = "console=ttyS0 quiet panic=-1";
  if (image.tsc_khz) options += " tsc_early_khz=" + std::to_string(image.tsc_khz);
  return options;
}

std::vector<std::string> QemuMachineArgv(const VmSpec& spec) {
  const auto& image = spec.image;
  // Under TCG the translation cache is capped (kTcgCacheMiB); KVM has none.
  std::string accel = image.accel;
  if (accel == "tcg") accel += ",tb-size=" + std::to_string(kTcgCacheMiB);
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

Result<std::unique_ptr<VmWall>> VmWall::Start(const VmSpec& spec) {
  if (!ValidId(spec.id)) return Fail(InvalidArgument("bad session id '" + spec.id + "'"));
  if (spec.vcpus < 1 || spec.vcpus > 64) return Fail(InvalidArgument("vcpus out of range"));
  if (spec.memory_mib < 128) return Fail(InvalidArgument("a VM needs at least 128 MiB"));
  MOAT_TRY(auto user, LookUpUser(spec.user));
  MOAT_TRY_VOID(CheckWord("home", user.home));
  MOAT_TRY_VOID(CheckWord("shell", user.shell));
  MOAT_TRY_VOID(CheckWord("run directory", spec.run_dir));
  MOAT_TRY_VOID(CheckWord("kernel", spec.image.kernel));
  MOAT_TRY_VOID(CheckWord("initramfs", spec.image.initramfs));

  std::string parent = spec.run_dir + "/vm";
  if (::mkdir(parent.c_str(), 0711) != 0 && errno != EEXIST) return FailErrno("mkdir", parent);
  std::unique_ptr<VmWall> wall(new VmWall());
  std::string dir = parent + "/" + spec.id;
  if (::mkdir(dir.c_str(), 0700) != 0) return FailErrno("mkdir", dir);
  wall->dir_ = dir;  // from here on the destructor removes it
  if (::chown(dir.c_str(), user.uid, user.gid) != 0) return FailErrno("chown", dir);

  UniqueFd log(::open((dir + "/qemu.log").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!log) return FailErrno("open", dir + "/qemu.log");
  UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null) return FailErrno("open", "/dev/null");
  auto argv = QemuArgv(spec, user, dir);
  if (spec.display_listener >= 0) AddDisplayPort(argv);
  std::vector<char*> args;
  for (auto& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  // QEMU only needs /dev/kvm beyond the user's rights; under TCG not even that.
  std::vector<gid_t> groups = {user.gid};
  if (spec.image.accel == "kvm") {
    struct stat kvm {};
    if (::stat("/dev/kvm", &kvm) == 0) groups.push_back(kvm.st_gid);
  }

  // The child waits on this pipe until the parent has placed it (spec.place).
  int gate[2];
  if (::pipe2(gate, O_CLOEXEC) != 0) return FailErrno("pipe2", "QEMU start gate");
  UniqueFd gate_read(gate[0]), gate_write(gate[1]);

  auto start = Clock::now();
  pid_t pid = ::fork();
  if (pid < 0) return FailErrno("fork", spec.qemu);
  if (pid == 0) {
    gate_write.Reset();
    char go = 0;
    if (::read(gate_read.get(), &go, 1) != 1 || go != 'g') ::_exit(125);
    // Its own session: it outlives the agent (re-adoption), and never gets our terminal.
    ::setsid();
    ::dup2(null.get(), 0);
    ::dup2(log.get(), 1);
    ::dup2(log.get(), 2);
    int keep = 3;
    if (spec.display_listener >= 0) {
      // dup2 clears close-on-exec on the copy; the original goes with close_range.
      if (spec.display_listener == kDisplayListenerFd) {
        if (::fcntl(kDisplayListenerFd, F_SETFD, 0) != 0) ::_exit(124);
      } else if (::dup2(spec.display_listener, kDisplayListenerFd) < 0) {
        ::_exit(124);
      }
      keep = kDisplayListenerFd + 1;
    }
    ::close_range(keep, ~0U, 0);
    ::umask(077);
    if (::setgroups(groups.size(), groups.data()) != 0 ||
        ::setresgid(user.gid, user.gid, user.gid) != 0 ||
        ::setresuid(user.uid, user.uid, user.uid) != 0) {
      ::_exit(126);
    }
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  wall->pid_ = pid;
  wall->reaped_ = false;
  wall->pidfd_ = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!wall->pidfd_) return FailErrno("pidfd_open", std::to_string(pid));
  gate_read.Reset();
  if (spec.place) MOAT_TRY_VOID_CTX(spec.place(pid), "place QEMU " + std::to_string(pid));
  if (::write(gate_write.get(), "g", 1) != 1) return FailErrno("write", "QEMU start gate");
  gate_write.Reset();

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
  auto info = wall->control_->Call({{"op", "info"}}, left, wall->pidfd_.get());
  if (!info) {
    return Fail(std::move(info).error().Wrap("waiting for moat-init in the guest (" +
                                             wall->Diagnostics() + ")"));
  }
  if (info->value("id", std::string()) != spec.id) {
    return Fail(InvalidArgument("moat-init answered for session '" +
                                info->value("id", std::string()) + "'"));
  }
  wall->boot_time_ = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  return wall;
}

VmWall::~VmWall() {
  KillQemu();
  (void)RemoveDir();
}

std::string VmWall::Diagnostics() const {
  std::string text = "console: " + Tail(console_log(), 600);
  std::string qemu = Tail(dir_ + "/qemu.log", 600);
  if (!qemu.empty()) text += " qemu: " + qemu;
  return text;
}

bool VmWall::WaitQemu(milliseconds timeout) {
  if (reaped_) return true;
  struct pollfd exited = {pidfd_.get(), POLLIN, 0};
  if (::poll(&exited, 1, static_cast<int>(timeout.count())) <= 0) return false;
  ::waitpid(pid_, nullptr, 0);
  reaped_ = true;
  return true;
}

void VmWall::KillQemu() {
  if (reaped_) return;
  ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
  // An adopted QEMU is not our child, so waitpid cannot wait for it: the pidfd can.
  struct pollfd exited = {pidfd_.get(), POLLIN, 0};
  (void)::poll(&exited, 1, 10000);
  ::waitpid(pid_, nullptr, WNOHANG);
  reaped_ = true;
}

bool VmWall::Running() const {
  if (reaped_) return false;
  struct pollfd exited = {pidfd_.get(), POLLIN, 0};
  return ::poll(&exited, 1, 0) == 0;
}

void VmWall::Release() {
  reaped_ = true;
  dir_.clear();
  control_.reset();
}

Status VmWall::Kill() {
  control_.reset();
  KillQemu();
  return RemoveDir();
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

Result<std::unique_ptr<VmWall>> VmWall::Adopt(const std::string& dir, const std::string& id,
                                              QemuProcess qemu) {
  if (qemu.pid <= 1) return Fail(InvalidArgument("bad QEMU pid in '" + dir + "'"));
  MOAT_TRY(auto started, ProcessStartTime(qemu.pid));
  if (started != qemu.start_time) {
    return Fail(Error(std::make_error_code(std::errc::no_such_process),
                      "QEMU " + std::to_string(qemu.pid) + " of '" + dir + "' is gone"));
  }
  std::unique_ptr<VmWall> wall(new VmWall());
  wall->pidfd_ = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, qemu.pid, 0)));
  if (!wall->pidfd_) return FailErrno("pidfd_open", std::to_string(qemu.pid));
  // Checked again now that the pidfd holds it: the pid cannot be reused any more.
  MOAT_TRY(auto again, ProcessStartTime(qemu.pid));
  if (again != qemu.start_time) return FailErrno("adopt", dir, ESRCH);
  wall->pid_ = qemu.pid;
  wall->reaped_ = false;
  wall->dir_ = dir;
  MOAT_TRY(auto control, VmControl::Connect(wall->control_socket()));
  wall->control_.emplace(std::move(control));
  auto info = wall->control_->Call({{"op", "info"}}, std::chrono::seconds(5), wall->pidfd_.get());
  if (!info) {
    wall->Release();  // not ours to end on a failed adoption: End() decides
    return Fail(std::move(info).error().Wrap("moat-init in '" + dir + "'"));
  }
  if (info->value("id", std::string()) != id) {
    wall->Release();
    return Fail(InvalidArgument("moat-init in '" + dir + "' answers for '" +
                                info->value("id", std::string()) + "'"));
  }
  return wall;
}

Status VmWall::RemoveDir() {
  if (dir_.empty()) return {};
  std::error_code error;
  std::filesystem::remove_all(dir_, error);
  if (error) return Fail(Error(error, "remove '" + dir_ + "': " + error.message()));
  dir_.clear();
  return {};
}

Result<nlohmann::json> VmWall::Qmp(const std::string& command, milliseconds timeout) {
  MOAT_TRY(auto qmp, QmpClient::Connect(qmp_socket(), timeout));
  return qmp.Execute(command, timeout);
}

Status VmWall::Shutdown(milliseconds grace) {
  Status outcome;
  if (!reaped_ && control_) {
    auto asked = control_->Call({{"op", "shutdown"}, {"grace_ms", grace.count()}},
                                std::chrono::seconds(10), pidfd_.get());
    // moat-init powers the guest off once every process is gone.
    if (asked && WaitQemu(grace + std::chrono::seconds(30))) return RemoveDir();
    if (!asked) outcome = Fail(std::move(asked).error().Wrap("shutdown"));
  }
  control_.reset();
  if (!reaped_ && Qmp("quit") && WaitQemu(std::chrono::seconds(5))) {
    MOAT_TRY_VOID(RemoveDir());
    return outcome;
  }
  KillQemu();
  MOAT_TRY_VOID(RemoveDir());
  if (outcome) {
    return Fail(Error(std::make_error_code(std::errc::timed_out),
                      "the guest did not power off: QEMU was killed"));
  }
  return outcome;
}

}  // namespace moat::agent::vm
