// A VM session's wall: one qemu-system-x86_64 -M microvm per session, booting Debian's kernel
// and the project's initramfs (agent/vm/build-guest.sh) with the wall's / read-only and the
// user's home read-write over virtio-9p, and moat-init as the guest's PID 1 on a virtio-serial
// control port. QEMU itself is the one application of a Moat namespace wall
// (sandbox::SessionManager): the session's user, no capabilities, no_new_privs, the wall's
// seccomp filter under QEMU's own -sandbox, the wall's session cgroup, its own user, pid,
// mount, network, ipc, uts and cgroup namespaces. A QEMU escape lands in that wall. The lowest
// layer of the VM backend; see docs/vm.md for the design and what is still to come.
//
// In the wall's host dir "vm" (<run>/sessions/<id>/vm on the host, /run/moat/vm inside, under
// root's 0700 session directory, so no host user reaches it):
//   control.sock   moat-init's control protocol, one JSON object per line (vm_control.h)
//   qmp.sock       QEMU's QMP (stop, cont, quit)
//   console.log    the guest's serial console; qemu.log QEMU's own stdout and stderr
// A desktop VM also has <run>/sessions/<id>/display/rfb.sock: root's, bound by the agent.
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
#include "moat/sandbox/session_manager.h"
#include "vm_control.h"

namespace moat::agent::vm {

// What every VM boots, as agent/vm/build-guest.sh writes it into guest.env.
struct GuestImage {
  std::string kernel;         // ELF vmlinux (PVH boot) or bzImage
  std::string initramfs;      // moat-init as /init; Debian's kernel's modules
  std::string accel = "tcg";  // chosen by build-guest.sh's probe boot: kvm or tcg
  uint64_t tsc_khz = 0;       // the host's TSC rate, for tsc_early_khz=; 0: unknown
  std::string kernel_package;

  static Result<GuestImage> Load(const std::string& guest_env);
};

struct VmSpec {
  std::string id;    // a sandbox session id: [a-z0-9][a-z0-9-]{0,31}
  std::string user;  // a host user other than root; QEMU and the guest's programs run as them
  unsigned vcpus = 1;
  unsigned memory_mib = 512;
  GuestImage image;
  std::string qemu = "qemu-system-x86_64";
  // Until moat-init answers on the control port. TCG needs seconds.
  std::chrono::milliseconds boot_timeout{std::chrono::seconds(120)};
  // The wall's session cgroup, which holds QEMU (and the wall's own moat-init): the whole VM.
  sandbox::Limits limits;
  // A desktop VM: the guest's virtio-serial port "moat.display" is served by QEMU on a
  // listening socket the agent binds as root where the display gateway looks
  // (<run>/sessions/<id>/display/rfb.sock), passed to QEMU as its stdin.
  bool display = false;
  // More read-only binds into QEMU's wall. The agent adds none; the VM escape suite binds the
  // probe it runs beside QEMU, with QEMU's privileges.
  std::vector<sandbox::BindMount> mounts;
};

// The kernel command line every guest gets before its session's moat.* words, and QEMU's
// machine, accelerator, CPU, RAM and kernel: shared with the bench's bare-boot floor
// (tests/bench/vm_bench.cc), which must boot exactly the same way.
std::string GuestKernelOptions(const GuestImage& image);
std::vector<std::string> QemuMachineArgv(const VmSpec& spec);

// The wall's host dir that holds QEMU's sockets and logs; it also marks a wall as a VM's.
inline constexpr char kVmHostDir[] = "vm";

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
  // Creates the wall, starts QEMU in it and returns once moat-init answers on the control
  // port. On failure nothing is left (no QEMU, no wall) and the error carries the end of the
  // guest's console.
  static Result<std::unique_ptr<VmWall>> Start(const VmSpec& spec,
                                               sandbox::SessionManager& manager);
  // Takes over a VM an earlier agent started (re-adoption after a restart): checks that the
  // wall `id` runs and that `qemu` still runs (same start time), holds QEMU by a pidfd and
  // reconnects the control port; moat-init answers with `id`.
  static Result<std::unique_ptr<VmWall>> Adopt(sandbox::SessionManager& manager,
                                               const std::string& id, QemuProcess qemu);
  // Whether the wall `id` of `manager` is a VM's (it has the "vm" host dir).
  static bool IsVmWall(const sandbox::SessionManager& manager, const std::string& id);
  // Kills a QEMU that still runs and stops the wall.
  ~VmWall();
  VmWall(const VmWall&) = delete;
  VmWall& operator=(const VmWall&) = delete;

  const std::string& id() const { return id_; }
  // The host side of the wall's "vm" dir.
  const std::string& dir() const { return dir_; }
  std::string control_socket() const { return dir_ + "/control.sock"; }
  std::string qmp_socket() const { return dir_ + "/qmp.sock"; }
  std::string console_log() const { return dir_ + "/console.log"; }
  // Where a desktop VM's RFB socket is on the host (whether or not this VM has one).
  std::string display_socket() const;
  pid_t qemu_pid() const { return pid_; }
  // Whether QEMU still runs (the guest powered off, or it crashed, otherwise).
  bool Running() const;
  // Forgets the VM without ending it: an agent that stops leaves its sessions running for the
  // next one to adopt.
  void Release();
  // SIGKILL to QEMU, then the wall is stopped: for a guest that no longer answers.
  Status Kill();
  // From the wall's creation to moat-init's first answer in the guest.
  std::chrono::milliseconds boot_time() const { return boot_time_; }
  // The connection Start used; the caller's from then on.
  VmControl& control() { return *control_; }

  // One QMP command on a fresh connection. Never while the wall's group is frozen: QEMU would
  // not answer until the timeout.
  Result<nlohmann::json> Qmp(const std::string& command,
                             std::chrono::milliseconds timeout = std::chrono::seconds(5),
                             const nlohmann::json& arguments = nullptr);
  // Asks moat-init to end the session (SIGTERM to every process, SIGKILL after `grace`, then
  // power off), falls back to QMP quit and SIGKILL, then stops the wall.
  Status Shutdown(std::chrono::milliseconds grace);

 private:
  explicit VmWall(sandbox::SessionManager& manager) : manager_(&manager) {}
  // QEMU in the wall `info`: launched through its control socket, found on the host.
  Status LaunchQemu(const VmSpec& spec, const sandbox::SessionInfo& info,
                    const std::vector<std::string>& argv);
  // Waits for QEMU to exit; true if it did within `timeout`.
  bool WaitQemu(std::chrono::milliseconds timeout);
  void KillQemu();
  // Ends the wall: everything left in it, its cgroup, files and id lease.
  Status StopWall();
  std::string Diagnostics() const;

  sandbox::SessionManager* manager_;
  std::string id_;
  std::string dir_;
  bool wall_ = false;  // a wall of ours to stop
  pid_t pid_ = 0;
  UniqueFd pidfd_;
  bool exited_ = true;
  std::chrono::milliseconds boot_time_{0};
  std::optional<VmControl> control_;
};

}  // namespace moat::agent::vm
