// A VM session's wall: one qemu-system-x86_64 -M microvm per session, run as the session's
// user, booting Debian's kernel and the project's initramfs (agent/vm/build-guest.sh) with
// the host's / read-only and the user's home read-write over virtio-9p, and moat-init as the
// guest's PID 1 on a virtio-serial control port. The lowest layer of the VM backend; see
// docs/vm.md for the design and what is still to come.
//
// Under the run directory, per session (`<run>/vm/<id>/`, owned by the user, 0700):
//   control.sock   moat-init's control protocol, one JSON object per line (vm_control.h)
//   qmp.sock       QEMU's QMP (stop, cont, quit)
//   console.log    the guest's serial console; qemu.log QEMU's own stdout and stderr
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "moat/common/error.h"
#include "moat/common/unique_fd.h"
#include "vm_control.h"

namespace moat::agent::vm {

// What every VM boots, as agent/vm/build-guest.sh writes it into guest.env.
struct GuestImage {
  std::string kernel;         // ELF vmlinux (PVH boot) or bzImage
  std::string initramfs;      // busybox, modules, moat-init, /init
  std::string accel = "tcg";  // chosen by build-guest.sh's probe boot: kvm or tcg
  uint64_t tsc_khz = 0;       // the host's TSC rate, for tsc_early_khz=; 0: unknown
  std::string kernel_package;

  static Result<GuestImage> Load(const std::string& guest_env);
};

struct VmSpec {
  std::string id;       // [A-Za-z0-9_-], at most 64
  std::string user;     // a host user other than root; the guest runs applications as them
  std::string run_dir;  // must be traversable by the user (QEMU binds its sockets there)
  unsigned vcpus = 1;
  unsigned memory_mib = 512;
  GuestImage image;
  std::string qemu = "qemu-system-x86_64";
  // Until moat-init answers on the control port. TCG needs seconds.
  std::chrono::milliseconds boot_timeout{std::chrono::seconds(120)};
  // Called with QEMU's pid after fork and before it execs (the child waits), so that QEMU and
  // every thread it starts are in the session's cgroup from the first instruction. A failure
  // stops the start.
  std::function<Status(pid_t)> place;
  // A desktop VM: a listening Unix stream socket (bound by the agent as root where the display
  // gateway looks, so QEMU, which runs as the user, needs no rights on that directory) that
  // QEMU serves as the guest's virtio-serial port "moat.display". -1: no display port.
  int display_listener = -1;
};

// The kernel command line every guest gets before its session's moat.* words, and QEMU's
// machine, accelerator, CPU, RAM and kernel: shared with the bench's bare-boot floor
// (tests/bench/vm_bench.cc), which must boot exactly the same way.
std::string GuestKernelOptions(const GuestImage& image);
std::vector<std::string> QemuMachineArgv(const VmSpec& spec);

// A QEMU named by its pid and its start time (clock ticks since boot, /proc/PID/stat field
// 22), so that a reused pid is never taken for it.
struct QemuProcess {
  pid_t pid = 0;
  uint64_t start_time = 0;
};
// The start time of `pid`; fails with ESRCH when it is gone.
Result<uint64_t> ProcessStartTime(pid_t pid);

class VmWall {
 public:
  // Starts QEMU and returns once moat-init answers on the control port. On failure nothing is
  // left (no QEMU, no directory) and the error carries the end of the guest's console.
  static Result<std::unique_ptr<VmWall>> Start(const VmSpec& spec);
  // Takes over a VM an earlier agent started in `dir` (re-adoption after a restart): checks
  // that `qemu` still runs (same start time), holds it by a pidfd and reconnects the control
  // port; moat-init answers with `id`. The QEMU is not our child: its exit is seen through the
  // pidfd.
  static Result<std::unique_ptr<VmWall>> Adopt(const std::string& dir, const std::string& id,
                                               QemuProcess qemu);
  // Kills a QEMU that still runs and removes the session's directory.
  ~VmWall();
  VmWall(const VmWall&) = delete;
  VmWall& operator=(const VmWall&) = delete;

  const std::string& dir() const { return dir_; }
  std::string control_socket() const { return dir_ + "/control.sock"; }
  std::string qmp_socket() const { return dir_ + "/qmp.sock"; }
  std::string console_log() const { return dir_ + "/console.log"; }
  pid_t qemu_pid() const { return pid_; }
  // Whether QEMU still runs (the guest powered off, or it crashed, otherwise).
  bool Running() const;
  // Forgets the VM without ending it: an agent that stops leaves its sessions running for the
  // next one to adopt.
  void Release();
  // SIGKILL to QEMU, wait for it to go, remove the directory: for a guest that no longer
  // answers.
  Status Kill();
  // From fork of QEMU to moat-init's first answer.
  std::chrono::milliseconds boot_time() const { return boot_time_; }
  // The connection Start used; the caller's from then on.
  VmControl& control() { return *control_; }

  // One QMP command on a fresh connection.
  Result<nlohmann::json> Qmp(const std::string& command,
                             std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Asks moat-init to end the session (SIGTERM to every process, SIGKILL after `grace`, then
  // power off), falls back to QMP quit and SIGKILL, reaps QEMU and removes the directory.
  Status Shutdown(std::chrono::milliseconds grace);

 private:
  VmWall() = default;
  // Waits for QEMU to exit; true if it did within `timeout` (then it is reaped).
  bool WaitQemu(std::chrono::milliseconds timeout);
  void KillQemu();
  Status RemoveDir();
  std::string Diagnostics() const;

  std::string dir_;
  pid_t pid_ = 0;
  UniqueFd pidfd_;
  bool reaped_ = true;
  std::chrono::milliseconds boot_time_{0};
  std::optional<VmControl> control_;
};

}  // namespace moat::agent::vm
