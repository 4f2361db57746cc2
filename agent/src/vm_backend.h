// The VM backend: every session is a QEMU microVM (vm/vm_wall.h) with moat-init as the guest's
// PID 1, and QEMU itself runs in a namespace wall made by the sandbox's SessionManager (the
// agent's one, shared with the sandbox backend: same cgroup driver, naming and id leases, so
// usage sampling does not care which backend a session has). CPU cap and weight, memory and
// io limits on the wall's session group apply to the whole VM; pids_max and one application's
// limits are moat-init's cgroups in the guest ("limits" op), memory max lowered live also
// inflates the guest's balloon. Applications, processes and signals go through moat-init's
// control protocol on the virtio-serial port; suspend is QMP stop and the wall's freezer,
// resume the reverse. See docs/vm.md for what is enforced.
//
// State lives in the run directory: the wall (<run>/sessions/<id>/, with QEMU's sockets and logs
// in its "vm" host dir) and <run>/vm/<id>.json (root's: user, creation time, QEMU's host pid and
// start time), so a new VmBackend (the agent after a restart) re-adopts the VMs an earlier one
// started. The walls with a "vm" host dir are this backend's; BackendSet keeps them out of the
// sandbox backend's list.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "backend.h"
#include "desktop_launcher.h"
#include "vm_wall.h"

namespace moat::agent {

struct VmBackendOptions {
  std::string run_dir = "/run/moat";
  // What agent/vm/build-guest.sh wrote: guest.env, the kernel, the initramfs.
  std::string guest_dir;
  std::string qemu = "qemu-system-x86_64";
  // vCPUs without a CPU cap; with one, one per started 100 % of it, up to the host's cores.
  unsigned vcpus = 1;
  unsigned memory_mib = 512;  // the guest's RAM unless the session's memory max is smaller
  // Desktops in the guest (vm_desktop.h). Under TCG Xvnc, openbox and their 9p reads take
  // seconds, hence the longer wait than a sandbox's.
  DesktopOptions desktop = {.ready_timeout = std::chrono::milliseconds(90000)};
};

// The default guest directory: $MOAT_VM_GUEST, else /var/cache/moat-vm/guest.
std::string DefaultVmGuestDir();

class VmBackend final : public Backend {
 public:
  // Fails, naming what is missing, without QEMU or a guest image. Re-adopts the VMs that run
  // under the run directory; those it cannot adopt are listed as ended, for End to clean up.
  // `manager` (whose run directory is options.run_dir) makes the walls QEMU runs in.
  static Result<std::unique_ptr<VmBackend>> Open(VmBackendOptions options,
                                                 sandbox::SessionManager& manager);
  // Leaves the VMs running, for the next agent to adopt (as sandbox sessions outlive it).
  ~VmBackend() override;

  std::string_view Kind() const override { return "vm"; }
  Result<BackendSession> Create(const wire::SessionCreate& spec) override;
  Result<LaunchedApp> Launch(const std::string& session, const AppLaunch& app) override;
  Result<std::vector<wire::ProcessInfo>> Processes(const std::string& session) const override;
  Status Signal(const std::string& session, pid_t pid, int signal) override;
  Status SetLimits(const std::string& session, const std::string& app,
                   const wire::SessionLimits& limits) override;
  Result<wire::SessionLimits> ReadLimits(const std::string& session,
                                         const std::string& app) const override;
  Result<sandbox::CgroupUsage> Usage(const std::string& session,
                                     const std::string& app) const override;
  Result<std::vector<std::string>> ListApps(const std::string& session) const override;
  Status Freeze(const std::string& session) override;
  Status Thaw(const std::string& session) override;
  Status End(const std::string& session, std::chrono::milliseconds grace) override;
  Result<std::vector<BackendSession>> List() const override;
  const sandbox::CgroupDriver& Cgroups() const override { return cgroups_; }

  const vm::GuestImage& image() const { return image_; }
  // The VM of a running session (tests: QEMU's pid, QMP).
  vm::VmWall* Wall(const std::string& session);

 private:
  struct Entry {
    std::unique_ptr<vm::VmWall> wall;  // null: found on disk but not adopted (ended)
    std::string user;
    int64_t created_unix = 0;
    unsigned memory_mib = 0;  // the guest's RAM: the balloon's ceiling
    vm::QemuProcess qemu;     // from the record, for End of a VM that was not adopted
  };

  VmBackend(VmBackendOptions options, vm::GuestImage image, sandbox::SessionManager& manager)
      : options_(std::move(options)),
        image_(std::move(image)),
        manager_(manager),
        cgroups_(manager.cgroups()) {}

  std::string VmDir() const { return options_.run_dir + "/vm"; }
  std::string RecordPath(const std::string& id) const { return VmDir() + "/" + id + ".json"; }
  void AdoptAll();
  // The entry of a session whose QEMU runs.
  Result<Entry*> FindRunning(const std::string& session) const;
  // Whether the session is suspended: its freezer first (QEMU frozen answers no QMP), then
  // QMP's query-status.
  Result<bool> Paused(const std::string& session, Entry& entry) const;
  // The freezer state of the wall's group: true once it is freezing or frozen.
  bool Frozen(const std::string& session) const;
  // moat-init's "limits" op: `set` applied (when given) to the guest's group `app` ("" the
  // applications' group), and the group's limits after it.
  Result<sandbox::Limits> GuestLimits(vm::VmWall& wall, const std::string& app,
                                      const std::optional<sandbox::Limits>& set) const;
  // The host's memory max of a running VM moved to `memory_max`: the balloon and the cgroup
  // in the order that never lets the guest hold more than the cgroup allows.
  Status ApplyHostLimits(const std::string& session, Entry& entry, const sandbox::Limits& limits);
  // QMP stop, then the freezer: the guest stops, then QEMU itself uses no CPU at all.
  Status Suspend(const std::string& session, Entry& entry);
  // Resumes a suspended VM for re-adoption (a stopped guest cannot answer); true if it was.
  bool ResumeForAdoption(const std::string& id);

  VmBackendOptions options_;
  vm::GuestImage image_;
  sandbox::SessionManager& manager_;
  sandbox::CgroupDriver& cgroups_;
  // Mutable: reads (Processes, Usage) talk over the VM's connections.
  mutable std::map<std::string, Entry> sessions_;
};

}  // namespace moat::agent
