#include "vm_backend.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "limits_conversion.h"
#include "moat/common/log.h"
#include "moat/sandbox/guest_limits.h"
#include "resolve_limits.h"
#include "vm_desktop.h"
#include "vm_limits.h"

namespace moat::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kMiB = 1ull << 20;
// How long a lowered memory max waits for the guest to fill its balloon before the cgroup's
// max drops anyway: a guest that cannot give memory back (no balloon driver, or all of it in
// use) is then reclaimed or OOM-killed by the host, as without a balloon.
constexpr auto kBalloonWait = seconds(10);

Error NotSupported(std::string message) {
  return Error(std::make_error_code(std::errc::not_supported), std::move(message));
}

Error Busy(std::string message) {
  return Error(std::make_error_code(std::errc::device_or_resource_busy), std::move(message));
}

Error NoSession(const std::string& session) {
  return Error(std::make_error_code(std::errc::no_such_file_or_directory),
               "no VM session '" + session + "' on this host");
}

unsigned HostCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) return static_cast<unsigned>(CPU_COUNT(&set));
  long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<unsigned>(online) : 1;
}

Result<std::string> FindExecutable(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) == 0) return name;
    return FailErrno("access", name);
  }
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return Fail(Error(std::make_error_code(std::errc::no_such_file_or_directory),
                    name + " is not installed (Debian: apt-get install qemu-system-x86)"));
}

Status WriteRecord(const std::string& path, const nlohmann::json& record) {
  std::string temp = path + ".tmp";
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return FailErrno("open", temp);
  std::string text = record.dump() + "\n";
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return FailErrno("write", temp);
  }
  if (::fsync(fd.get()) != 0) return FailErrno("fsync", temp);
  if (::rename(temp.c_str(), path.c_str()) != 0) return FailErrno("rename", temp);
  return {};
}

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

}  // namespace

std::string DefaultVmGuestDir() {
  const char* env = std::getenv("MOAT_VM_GUEST");
  return env && *env ? env : "/var/cache/moat-vm/guest";
}

Result<std::unique_ptr<VmBackend>> VmBackend::Open(VmBackendOptions options,
                                                   sandbox::SessionManager& manager) {
  MOAT_TRY(options.qemu, FindExecutable(options.qemu));
  std::string env = options.guest_dir + "/guest.env";
  auto image = vm::GuestImage::Load(env);
  if (!image) {
    return Fail(std::move(image).error().Wrap(
        "no VM guest image (build it with agent/vm/build-guest.sh --output " + options.guest_dir +
        ")"));
  }
  for (const auto& file : {image->kernel, image->initramfs}) {
    if (::access(file.c_str(), R_OK) != 0) return FailErrno("access", file);
  }
  // The records: root's alone.
  std::string records = options.run_dir + "/vm";
  std::error_code made;
  std::filesystem::create_directories(records, made);
  if (made) return FailErrno("mkdir", records, made.value());
  if (::chmod(records.c_str(), 0700) != 0) return FailErrno("chmod", records);
  std::unique_ptr<VmBackend> backend(new VmBackend(std::move(options), std::move(*image), manager));
  backend->AdoptAll();
  return backend;
}

VmBackend::~VmBackend() {
  for (auto& [id, entry] : sessions_) {
    if (entry.wall) entry.wall->Release();
  }
}

void VmBackend::AdoptAll() {
  // A VM is a wall with the "vm" host dir, or a record (the wall may have gone with a reboot
  // of the host, or never been made by a crashed agent): End cleans up either.
  std::set<std::string> ids;
  if (auto walls = manager_.List()) {
    for (const auto& wall : *walls) {
      if (vm::VmWall::IsVmWall(manager_, wall.id)) ids.insert(wall.id);
    }
  }
  if (DIR* dir = ::opendir(VmDir().c_str())) {
    while (struct dirent* entry = ::readdir(dir)) {
      std::string name = entry->d_name;
      if (!name.ends_with(".json")) continue;
      name.resize(name.size() - 5);
      if (ValidId(name)) ids.insert(name);
    }
    ::closedir(dir);
  }
  for (const auto& id : ids) {
    Entry entry;
    std::ifstream in(RecordPath(id));
    auto record = nlohmann::json::parse(in, nullptr, false);
    if (record.is_object()) {
      entry.user = record.value("user", std::string());
      entry.created_unix = record.value("created_unix", int64_t{0});
      entry.qemu.pid = record.value("pid", 0);
      entry.qemu.start_time = record.value("start_time", uint64_t{0});
      entry.memory_mib = record.value("memory_mib", 0u);
    }
    const bool suspended = ResumeForAdoption(id);
    auto wall = vm::VmWall::Adopt(manager_, id, entry.qemu);
    if (wall) {
      entry.wall = std::move(*wall);
      if (suspended) {
        auto again = Suspend(id, entry);
        if (!again) {
          log::Warning("VM session re-adopted, but not suspended again",
                       {{"session", id}, {"error", again.error().message()}});
        }
      }
      log::Info("re-adopted VM session",
                {{"session", id}, {"pid", std::to_string(entry.qemu.pid)}});
    } else {
      log::Warning("VM session not adopted; listed as ended",
                   {{"session", id}, {"error", wall.error().message()}});
    }
    sessions_[id] = std::move(entry);
  }
}

vm::VmWall* VmBackend::Wall(const std::string& session) {
  auto it = sessions_.find(session);
  return it == sessions_.end() ? nullptr : it->second.wall.get();
}

Result<VmBackend::Entry*> VmBackend::FindRunning(const std::string& session) const {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return Fail(NoSession(session));
  if (!it->second.wall || !it->second.wall->Running()) {
    return Fail(InvalidArgument("session '" + session + "' has ended"));
  }
  return &it->second;
}

bool VmBackend::Frozen(const std::string& session) const {
  for (const auto& file : cgroups_.CounterFiles(session)) {
    if (file.kind != sandbox::CounterKind::kV1FreezerState &&
        file.kind != sandbox::CounterKind::kV2CgroupEvents) {
      continue;
    }
    std::ifstream in(file.path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // v1's FREEZING counts: some of QEMU's threads may already be stopped.
    if (file.kind == sandbox::CounterKind::kV1FreezerState) return !text.starts_with("THAWED");
    sandbox::CgroupUsage usage;
    sandbox::ApplyCounter(file.kind, text, usage);
    return usage.frozen;
  }
  return false;
}

Result<bool> VmBackend::Paused(const std::string& session, Entry& entry) const {
  if (Frozen(session)) return true;
  MOAT_TRY(auto status, entry.wall->Qmp("query-status"));
  return status.value("status", std::string()) == "paused";
}

Result<sandbox::Limits> VmBackend::GuestLimits(vm::VmWall& wall, const std::string& app,
                                               const std::optional<sandbox::Limits>& set) const {
  nlohmann::json request = {{"op", "limits"}, {"app", app}};
  if (set) request["set"] = sandbox::GuestLimitsToJson(*set);
  MOAT_TRY(auto reply, wall.control().Call(request, seconds(10)));
  return sandbox::GuestLimitsFromJson(reply.value("limits", nlohmann::json::object()));
}

Status VmBackend::ApplyHostLimits(const std::string& session, Entry& entry,
                                  const sandbox::Limits& limits) {
  if (!limits.memory_max || entry.memory_mib == 0) return cgroups_.Apply(session, limits);
  MOAT_TRY(auto current, cgroups_.ReadLimits(session));
  const uint64_t ram = uint64_t{entry.memory_mib} * kMiB;
  const uint64_t target = BalloonTargetBytes(ram, *limits.memory_max);
  auto balloon = [&]() -> Status {
    MOAT_TRY_VOID_CTX(entry.wall->Qmp("balloon", seconds(5), {{"value", target}}),
                      "balloon of VM session '" + session + "'");
    return {};
  };
  if (current.memory_max && *limits.memory_max >= *current.memory_max) {
    // Raised: the cgroup first, so that the guest's pages fit as it takes them back.
    MOAT_TRY_VOID(cgroups_.Apply(session, limits));
    return balloon();
  }
  // Lowered: the guest gives memory back first, so that the cgroup's max does not reclaim or
  // OOM-kill QEMU for pages the guest still holds.
  MOAT_TRY_VOID(balloon());
  auto deadline = std::chrono::steady_clock::now() + kBalloonWait;
  uint64_t actual = ram;
  for (;;) {
    if (auto info = entry.wall->Qmp("query-balloon")) actual = info->value("actual", ram);
    if (actual <= target || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  if (actual > target) {
    log::Warning("the VM's guest did not reach its balloon target in time",
                 {{"session", session},
                  {"target_mib", std::to_string(target / kMiB)},
                  {"actual_mib", std::to_string(actual / kMiB)}});
  }
  return cgroups_.Apply(session, limits);
}

Result<BackendSession> VmBackend::Create(const wire::SessionCreate& spec) {
  if (spec.backend != wire::Backend::kVm) {
    return Fail(InvalidArgument("the VM backend cannot create a '" +
                                std::string(wire::BackendName(spec.backend)) + "' session"));
  }
  if (!ValidId(spec.session_id)) {
    return Fail(InvalidArgument("bad session id '" + spec.session_id + "'"));
  }
  if (sessions_.count(spec.session_id)) {
    return Fail(Error(std::make_error_code(std::errc::file_exists),
                      "VM session '" + spec.session_id + "' exists"));
  }
  MOAT_TRY(auto limits, ResolveLimits(spec.limits));
  MOAT_TRY_VOID(CheckVmMemoryFloor(limits));
  const auto split = SplitSessionLimits(limits);
  const std::string& id = spec.session_id;
  vm::VmSpec vm;
  vm.id = id;
  vm.user = spec.user;
  // vCPUs are fixed at creation (microvm has no CPU hotplug): a later cap only throttles them.
  vm.vcpus = VcpusForCap(limits, HostCores(), options_.vcpus);
  vm.memory_mib = options_.memory_mib;
  if (limits.memory_max) {
    uint64_t max_mib = *limits.memory_max / kMiB;
    vm.memory_mib =
        static_cast<unsigned>(std::min<uint64_t>(vm.memory_mib, max_mib - kQemuOverheadMiB));
  }
  vm.image = image_;
  vm.qemu = options_.qemu;
  vm.boot_timeout = seconds(60);
  // The wall's session group, named like a sandbox's, holds QEMU from its first instruction.
  vm.limits = split.host;
  vm.display = spec.desktop;
  auto wall = vm::VmWall::Start(vm, manager_);
  if (!wall) return Fail(std::move(wall).error().Wrap("start VM session '" + id + "'"));
  BackendSession out{id, spec.user, true, 0, id, "", wire::Backend::kVm};
  // pids_max before any application runs, so that none escapes it.
  if (split.guest.pids_max) {
    if (auto applied = GuestLimits(**wall, "", split.guest); !applied) {
      (void)(*wall)->Kill();
      return Fail(std::move(applied).error().Wrap("set pids_max in VM session '" + id + "'"));
    }
  }
  if (spec.desktop) {
    DesktopRequest request{spec.geometry.value_or(options_.desktop.geometry),
                           spec.depth.value_or(options_.desktop.depth)};
    auto desktop = StartVmDesktop((*wall)->control(), id, (*wall)->display_socket(), request,
                                  options_.desktop);
    if (!desktop) {
      (void)(*wall)->Kill();
      return Fail(std::move(desktop).error().Wrap("start the desktop of VM session '" + id + "'"));
    }
    out.rfb_socket = desktop->rfb_socket;
    log::Info("VM desktop ready", {{"session", id},
                                   {"rfb_ms", std::to_string(desktop->rfb_ready.count() / 1000)},
                                   {"wm_ms", std::to_string(desktop->wm_ready.count() / 1000)}});
  }
  Entry entry;
  entry.user = spec.user;
  entry.created_unix = static_cast<int64_t>(std::time(nullptr));
  entry.memory_mib = vm.memory_mib;
  entry.qemu.pid = (*wall)->qemu_pid();
  auto started = vm::ProcessStartTime(entry.qemu.pid);
  Status recorded = started ? Status{} : Status(Fail(started.error()));
  if (started) {
    entry.qemu.start_time = *started;
    recorded = WriteRecord(RecordPath(id), {{"user", entry.user},
                                            {"created_unix", entry.created_unix},
                                            {"pid", entry.qemu.pid},
                                            {"start_time", entry.qemu.start_time},
                                            {"memory_mib", vm.memory_mib},
                                            {"vcpus", vm.vcpus}});
  }
  if (!recorded) {
    (void)(*wall)->Kill();
    return Fail(std::move(recorded).error().Wrap("record VM session '" + id + "'"));
  }
  log::Info("VM session ready", {{"session", id},
                                 {"boot_ms", std::to_string((*wall)->boot_time().count())},
                                 {"accel", image_.accel},
                                 {"memory_mib", std::to_string(vm.memory_mib)},
                                 {"vcpus", std::to_string(vm.vcpus)}});
  entry.wall = std::move(*wall);
  sessions_[id] = std::move(entry);
  out.created_unix = sessions_[id].created_unix;
  return out;
}

Result<LaunchedApp> VmBackend::Launch(const std::string& session, const AppLaunch& app) {
  MOAT_TRY(auto* entry, FindRunning(session));
  const bool has_limits = !(app.limits == wire::SessionLimits{});
  MOAT_TRY(auto resolved, ResolveLimits(app.limits));
  MOAT_TRY(auto limits, ApplicationLimits(resolved));
  if (app.argv.empty()) return Fail(InvalidArgument("launch needs a command"));
  MOAT_TRY(bool paused, Paused(session, *entry));
  if (paused) return Fail(Busy("session '" + session + "' is suspended: resume it first"));
  MOAT_TRY(auto launched, entry->wall->control().Launch(app.argv, app.env, app.cwd, seconds(10)));
  // As in a sandbox: the application's group gets its limits right after the start.
  if (has_limits) {
    if (auto applied = GuestLimits(*entry->wall, launched.group, limits); !applied) {
      (void)Signal(session, launched.pid, SIGKILL);
      return Fail(std::move(applied).error().Wrap("limit application '" + launched.group + "'"));
    }
  }
  return LaunchedApp{launched.pid, launched.group};
}

Result<std::vector<wire::ProcessInfo>> VmBackend::Processes(const std::string& session) const {
  MOAT_TRY(auto* entry, FindRunning(session));
  // Only moat-init can see the guest's processes, and a stopped guest cannot answer.
  MOAT_TRY(bool paused, Paused(session, *entry));
  if (paused) {
    return Fail(Busy("session '" + session +
                     "' is suspended: a VM's processes are listed by its guest, resume it first"));
  }
  MOAT_TRY(auto reply, entry->wall->control().Call({{"op", "ps"}}, seconds(10)));
  std::vector<wire::ProcessInfo> out;
  for (const auto& p : reply.value("processes", nlohmann::json::array())) {
    uint64_t pid = p.value("pid", uint64_t{0}), ppid = p.value("ppid", uint64_t{0});
    // The guest kernel's own threads (kthreadd, pid 2, and its children) are no session's.
    if (pid == 0 || pid == 2 || ppid == 2) continue;
    wire::ProcessInfo info;
    info.pid = pid;
    info.ppid = ppid;
    info.uid = p.value("uid", uint64_t{0});
    info.app = p.value("app", std::string());
    info.command = p.value("command", "[" + p.value("comm", std::string()) + "]");
    info.state = p.value("state", std::string("?"));
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.pid < b.pid; });
  return out;
}

Status VmBackend::Signal(const std::string& session, pid_t pid, int signal) {
  if (pid == 1) {
    return Fail(InvalidArgument("pid 1 is moat-init, the session itself: end the session instead"));
  }
  if (pid < 1 || signal < 1 || signal >= NSIG) {
    return Fail(
        InvalidArgument("bad pid " + std::to_string(pid) + " or signal " + std::to_string(signal)));
  }
  MOAT_TRY(auto* entry, FindRunning(session));
  MOAT_TRY(bool paused, Paused(session, *entry));
  if (paused) return Fail(Busy("session '" + session + "' is suspended: resume it first"));
  MOAT_TRY_VOID(entry->wall->control().Call({{"op", "signal"}, {"pid", pid}, {"signal", signal}},
                                            seconds(5)));
  return {};
}

Status VmBackend::SetLimits(const std::string& session, const std::string& app,
                            const wire::SessionLimits& limits) {
  MOAT_TRY(auto resolved, ResolveLimits(limits));
  // One application's limits live in the guest: QEMU's group is not touched by them.
  if (app.empty()) MOAT_TRY_VOID(CheckVmMemoryFloor(resolved));
  MOAT_TRY(auto* entry, FindRunning(session));
  const auto split = SplitSessionLimits(resolved);
  const bool guest = !app.empty() || split.guest.pids_max;
  // A suspended guest answers nothing, and neither would its balloon.
  if ((guest || resolved.memory_max) && Frozen(session)) {
    return Fail(Busy("session '" + session + "' is suspended: resume it to change " +
                     (guest ? "the guest's limits" : "its memory max")));
  }
  if (!app.empty()) {
    MOAT_TRY(auto one, ApplicationLimits(resolved));
    MOAT_TRY_VOID(GuestLimits(*entry->wall, app, one));
    return {};
  }
  // The guest's first: its op checks everything before it writes, the host's writes cannot be
  // undone.
  if (split.guest.pids_max) {
    MOAT_TRY_VOID(GuestLimits(*entry->wall, "", split.guest));
  }
  return ApplyHostLimits(session, *entry, split.host);
}

Result<wire::SessionLimits> VmBackend::ReadLimits(const std::string& session,
                                                  const std::string& app) const {
  MOAT_TRY(auto* entry, FindRunning(session));
  if (!app.empty()) {
    if (Frozen(session)) {
      return Fail(
          Busy("session '" + session + "' is suspended: resume it to read the guest's limits"));
    }
    MOAT_TRY(auto limits, GuestLimits(*entry->wall, app, std::nullopt));
    return ToWireLimits(limits);
  }
  MOAT_TRY(auto limits, cgroups_.ReadLimits(session));
  // The host group's pids.max caps QEMU's threads: the session's pids_max is the guest's.
  limits.pids_max.reset();
  if (!Frozen(session)) {
    MOAT_TRY(auto guest, GuestLimits(*entry->wall, "", std::nullopt));
    limits.pids_max = guest.pids_max;
  }
  return ToWireLimits(limits);
}

Result<sandbox::CgroupUsage> VmBackend::Usage(const std::string& session,
                                              const std::string& app) const {
  if (!app.empty()) return Fail(NotSupported("VM sessions have no per-application usage yet"));
  MOAT_TRY(auto* entry, FindRunning(session));
  MOAT_TRY(auto usage, cgroups_.Usage(session));
  // Frozen is the freezer's word (and then QEMU must not be asked); a guest stopped by QMP
  // alone (a suspend whose freeze failed) counts too.
  if (!usage.frozen) {
    MOAT_TRY(usage.frozen, Paused(session, *entry));
  }
  return usage;
}

Result<std::vector<std::string>> VmBackend::ListApps(const std::string& session) const {
  MOAT_TRY(auto processes, Processes(session));
  std::set<std::string> apps;
  for (const auto& process : processes) {
    if (!process.app.empty()) apps.insert(process.app);
  }
  return std::vector<std::string>(apps.begin(), apps.end());
}

Status VmBackend::Suspend(const std::string& session, Entry& entry) {
  if (Frozen(session)) return {};
  // The vCPUs stop first, so that the guest is at rest when QEMU's threads are frozen.
  MOAT_TRY_VOID_CTX(entry.wall->Qmp("stop"), "suspend VM session '" + session + "'");
  if (auto frozen = cgroups_.Freeze(session); !frozen) {
    (void)cgroups_.Thaw(session);
    (void)entry.wall->Qmp("cont");
    return Fail(std::move(frozen).error().Wrap("freeze VM session '" + session + "'"));
  }
  return {};
}

Status VmBackend::Freeze(const std::string& session) {
  MOAT_TRY(auto* entry, FindRunning(session));
  return Suspend(session, *entry);
}

Status VmBackend::Thaw(const std::string& session) {
  MOAT_TRY(auto* entry, FindRunning(session));
  MOAT_TRY_VOID_CTX(cgroups_.Thaw(session), "thaw VM session '" + session + "'");
  MOAT_TRY_VOID_CTX(entry->wall->Qmp("cont"), "resume VM session '" + session + "'");
  return {};
}

bool VmBackend::ResumeForAdoption(const std::string& id) {
  if (!cgroups_.Exists(id)) return false;
  bool frozen = Frozen(id);
  if (frozen && !cgroups_.Thaw(id)) return false;
  bool paused = false;
  auto qmp =
      vm::QmpClient::Connect(manager_.HostDirPath(id, vm::kVmHostDir) + "/qmp.sock", seconds(2));
  if (qmp) {
    auto status = qmp->Execute("query-status", seconds(2));
    paused = status && status->value("status", std::string()) == "paused";
    if (paused) (void)qmp->Execute("cont", seconds(2));
  }
  return frozen || paused;
}

Status VmBackend::End(const std::string& session, milliseconds grace) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return Fail(NoSession(session));
  Entry& entry = it->second;
  Status ended;
  if (entry.wall && entry.wall->Running()) {
    // A stopped guest cannot shut itself down (and a frozen QEMU not even quit).
    if (Frozen(session)) (void)cgroups_.Thaw(session);
    if (auto paused = Paused(session, entry); paused && *paused) (void)entry.wall->Qmp("cont");
    ended = entry.wall->Shutdown(grace);
    if (!ended)
      log::Warning("VM shutdown", {{"session", session}, {"error", ended.error().message()}});
  } else if (entry.wall) {
    ended = entry.wall->Kill();  // QEMU exited by itself: the wall goes
  } else if (manager_.Find(session)) {
    if (Frozen(session)) (void)cgroups_.Thaw(session);  // v1: SIGKILL waits for a thaw
    // Not adopted: the wall goes with everything in it, QEMU included.
    ended = manager_.Stop(session, milliseconds(0));
  }
  // The wall removes its group; this is for a wall that could not be stopped.
  if (cgroups_.Exists(session)) {
    if (cgroups_.Populated(session)) (void)cgroups_.Kill(session);
    MOAT_TRY_VOID_CTX(cgroups_.Destroy(session),
                      "remove the cgroup of VM session '" + session + "'");
  }
  // A VM an agent before QEMU's wall started kept its sockets in <run>/vm/<id>/.
  std::error_code legacy;
  std::filesystem::remove_all(VmDir() + "/" + session, legacy);
  if (::unlink(RecordPath(session).c_str()) != 0 && errno != ENOENT) {
    return FailErrno("unlink", RecordPath(session));
  }
  sessions_.erase(it);
  // A guest that had to be killed still ended: nothing of it is left.
  if (!ended) log::Warning("VM session ended the hard way", {{"session", session}});
  return {};
}

Result<std::vector<BackendSession>> VmBackend::List() const {
  std::vector<BackendSession> out;
  for (const auto& [id, entry] : sessions_) {
    bool running = entry.wall && entry.wall->Running();
    // A desktop VM's socket stays bound in QEMU (it holds the listening fd), so it outlives
    // an agent restart like the VM itself.
    std::string rfb = options_.run_dir + "/sessions/" + id + "/display/rfb.sock";
    struct stat info {};
    if (::lstat(rfb.c_str(), &info) != 0 || !S_ISSOCK(info.st_mode)) rfb.clear();
    out.push_back(
        BackendSession{id, entry.user, running, entry.created_unix, id, rfb, wire::Backend::kVm});
  }
  return out;
}

}  // namespace moat::agent
