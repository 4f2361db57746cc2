#include "moat/sandbox/session_manager.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>

#include "cgroup_files.h"
#include "cgroup_namespace.h"
#include "host_dirs.h"
#include "id_map.h"
#include "init_process.h"
#include "moat/common/scope_guard.h"
#include "moat/sandbox/control_client.h"
#include "moat/sandbox/control_protocol.h"
#include "moat/sandbox/seccomp_policy.h"
#include "process_identity.h"
#include "seccomp_disk_cache.h"
#include "session_state.h"
#include "setup_config.h"
#include "user_identity.h"

namespace moat::sandbox {
namespace {

constexpr int kSetupTimeoutMs = 30000;

std::string FindInitBinary(const std::string& configured) {
  if (!configured.empty()) return configured;
  if (const char* env = ::getenv("MOAT_INIT")) return env;
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    std::string dir(self, static_cast<size_t>(n));
    dir = dir.substr(0, dir.rfind('/'));
    for (const char* relative :
         {"/moat-init", "/../sandbox/moat-init", "/../libexec/moat/moat-init"}) {
      std::string candidate = dir + relative;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  return "/usr/libexec/moat/moat-init";
}

Result<UniqueFd> ProgramToMemfd(const SeccompProgram& program) {
  UniqueFd fd(::memfd_create("moat-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return FailErrno("memfd_create", "moat-seccomp");
  if (::write(fd.get(), program.bpf.data(), program.bpf.size()) !=
      static_cast<ssize_t>(program.bpf.size())) {
    return FailErrno("write", "seccomp memfd");
  }
  // Sealed so that nothing can change the filter between here and moat-init loading it.
  ::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
  return fd;
}

Status WriteIdMaps(pid_t pid, const UserIdentity& user, uint32_t base) {
  std::string proc = "/proc/" + std::to_string(pid);
  MOAT_TRY_VOID(WriteCgroupFile(proc + "/uid_map", FormatIdMap(user.uid, base)));
  std::vector<uint32_t> kept_groups = {user.gid};
  kept_groups.insert(kept_groups.end(), user.device_groups.begin(), user.device_groups.end());
  MOAT_TRY_VOID(WriteCgroupFile(proc + "/gid_map", FormatIdMap(kept_groups, base)));
  return {};
}

// On pure v2 the host makes moat-init's cgroup namespace (cgroup_namespace.h), so that neither
// moat-init's entry into its leaf nor the session group's handing down of controllers waits
// for the kernel's global lock. No fd: moat-init does both itself, the old way (hybrid and v1
// hosts, where it moves itself through v1 `tasks` anyway; hosts that refuse clone3).
Result<UniqueFd> CgroupNamespaceForInit(const SetupConfig& c) {
  // The helper would root the v1 hierarchies' view at our own groups, not the session's.
  bool only_cgroup2 = c.cgroup_dirs.size() == 1 && c.cgroup_dirs[0] == c.cgroup2_dir &&
                      c.cgroup_session_only_dirs.empty();
  if (!only_cgroup2 || c.cgroup2_init_dir == c.cgroup2_dir) return UniqueFd();
  UniqueFd group(::open(c.cgroup2_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!group) return FailErrno("open", c.cgroup2_dir);
  auto made = MakeCgroupNamespaceIn(group.get(), c.cgroup2_dir);
  if (!made) return UniqueFd();
  return std::move(*made);
}

// Serves moat-init's set-up requests until it reports ready or failed.
Status AwaitReady(InitProcess& init, const UserIdentity& user, uint32_t base) {
  for (;;) {
    if (!WaitForReadable(init.setup_socket.get(), kSetupTimeoutMs)) {
      return Fail(Error(std::make_error_code(std::errc::timed_out),
                        "moat-init did not finish set-up within 30 s"));
    }
    auto message = ReceiveControlMessage(init.setup_socket.get());
    if (!message) {
      return Fail(message.error().Wrap("moat-init exited during set-up (see its exit status)"));
    }
    std::string phase = message->body.value("phase", std::string());
    if (phase == "userns") {
      MOAT_TRY_VOID_CTX(WriteIdMaps(init.pid, user, base), "write id maps");
      MOAT_TRY_VOID(SendControlMessage(init.setup_socket.get(), {{"mapped", true}}));
    } else if (phase == "ready") {
      return {};
    } else if (phase == "failed") {
      int err = message->body.value("errno", EIO);
      return Fail(Error(std::error_code(err, std::generic_category()),
                        message->body.value("message", std::string("unknown failure"))));
    } else {
      return Fail(InvalidArgument("unexpected set-up message: " + message->body.dump()));
    }
  }
}

}  // namespace

Result<std::unique_ptr<SessionManager>> SessionManager::Open(ManagerOptions options) {
  if (::geteuid() != 0) {
    return Fail(Error(std::make_error_code(std::errc::operation_not_permitted),
                      "moat-sandbox must run as root: it builds namespaces, mounts and cgroups"));
  }
  options.init_path = FindInitBinary(options.init_path);
  // Absolute: the run directory entry a lease names must mean the same from any directory.
  options.run_dir = std::filesystem::absolute(options.run_dir).lexically_normal().string();
  while (options.run_dir.size() > 1 && options.run_dir.back() == '/') options.run_dir.pop_back();
  // The run directory is made by the first Create: a refused request, a list or a stop of
  // an unknown id leaves nothing behind.
  MOAT_TRY(auto cgroups, CgroupDriver::Detect(options.cgroups));
  return std::unique_ptr<SessionManager>(
      new SessionManager(std::move(options), std::move(cgroups)));
}

std::string SessionManager::SessionDir(const std::string& id) const {
  return options_.run_dir + "/sessions/" + id;
}

std::string SessionManager::HostDirPath(const std::string& id, const std::string& name) const {
  return SessionDir(id) + "/" + name;
}

Result<SessionInfo> SessionManager::Create(SessionSpec spec) {
  if (spec.id.empty()) spec.id = GenerateSessionId();
  if (spec.hostname.empty()) {
    // An id may end in '-', a host name may not.
    spec.hostname = "moat-" + spec.id.substr(0, spec.id.find_last_not_of('-') + 1);
  }
  MOAT_TRY_VOID(ValidateSessionSpec(spec));
  MOAT_TRY(auto user, LookupUser(spec.user));
  // A device's access is checked against host ids: its group enters the wall with it, unless
  // anyone may use the node anyway. Host root's group never does.
  for (const auto& device : spec.devices) {
    struct stat node {};
    if (::stat(device.c_str(), &node) != 0) return FailErrno("stat", device);
    if (!S_ISCHR(node.st_mode)) return FailErrno("bind device", device, ENODEV);
    if ((node.st_mode & 0006) == 0006 || node.st_gid == user.gid) continue;
    if (node.st_gid == 0) {
      return Fail(InvalidArgument("device '" + device +
                                  "' is group root's: that group never enters a wall"));
    }
    user.device_groups.push_back(node.st_gid);
  }
  for (const std::string& dir :
       {options_.run_dir, options_.run_dir + "/sessions", options_.id_lease_dir}) {
    MOAT_TRY_VOID_CTX(MakeDirs(dir, 0700), "prepare run directory");
  }
  // moat-init's own; applications get the rest of the profile from it (SeccompAudience).
  MOAT_TRY(auto program, LoadSeccompProgram(options_.run_dir + "/seccomp", spec.seccomp_profile,
                                            SeccompAudience::kSupervisor));

  std::string dir = SessionDir(spec.id);
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST) {
      return Fail(Error(std::make_error_code(std::errc::file_exists),
                        "session '" + spec.id + "' already exists: stop it or choose another id"));
    }
    return FailErrno("mkdir", dir);
  }
  SessionInfo info;
  info.id = spec.id;
  info.user = user.name;
  info.uid = user.uid;
  info.control_socket = dir + "/control.sock";
  info.created_unix = std::time(nullptr);
  ScopeGuard remove_traces([&] { (void)RemoveSessionTraces(info); });

  // The session's group must be new: an id reused in another run directory must not share it.
  if (cgroups_->Exists(spec.id)) {
    return Fail(Error(std::make_error_code(std::errc::file_exists),
                      "a cgroup for session '" + spec.id +
                          "' exists already (a session of another run directory?)"));
  }
  MOAT_TRY_VOID(cgroups_->Create(spec.id));
  info.cgroup = spec.id;  // ours from here on: the rollback may remove it
  // After the cgroups: a lease is judged stale only once its run directory entry and its
  // cgroups are gone (id_map.h), so they must exist before it does.
  MOAT_TRY(auto lease, AcquireIdSlot(options_.id_lease_dir, dir, cgroups_->Directories(spec.id)));
  // The lease object releases the slot on failure; RemoveSessionTraces must not (another
  // session may hold it by then), so host_id_base stays 0 until we succeed.
  const uint32_t id_base = HostIdBase(lease.slot());
  info.id_slot = lease.slot();
  // moat-init, as the user, makes one sub-group per application inside the session's group.
  MOAT_TRY_VOID(cgroups_->Delegate(spec.id, user.uid, user.gid));
  MOAT_TRY(auto seccomp_fd, ProgramToMemfd(program));

  SetupConfig config;
  config.id = spec.id;
  config.hostname = spec.hostname;
  config.lower_dir = spec.root;
  config.user = user;
  config.mounts = spec.mounts;
  for (const auto& name : spec.host_dirs) {
    MOAT_TRY_VOID_CTX(CreateHostDir(dir, name, user.uid, user.gid), "host dir");
    config.mounts.push_back({dir + "/" + name, std::string(kHostDirMountParent) + "/" + name,
                             /*read_only=*/false});
  }
  config.upper_size_bytes = spec.upper_size_bytes;
  config.staging_dir = dir + "/root";
  config.control_socket = info.control_socket;
  config.cgroup_dirs = cgroups_->Directories(spec.id);
  config.cgroup_session_only_dirs = cgroups_->SessionOnlyDirectories(spec.id);
  config.hidden_paths = {options_.run_dir};
  config.devices = spec.devices;
  config.env = spec.env;

  config.cgroup2_dir = cgroups_->Cgroup2Directory(spec.id);
  config.cgroup2_init_dir = cgroups_->InitDirectory(spec.id);
  config.cgroup_self_move_file = cgroups_->SelfMoveFile();
  UniqueFd birth_group;
  if (!config.cgroup2_init_dir.empty()) {
    birth_group =
        UniqueFd(::open(config.cgroup2_init_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!birth_group) return FailErrno("open", config.cgroup2_init_dir);
  }
  MOAT_TRY(UniqueFd cgroup_namespace, CgroupNamespaceForInit(config));
  if (cgroup_namespace) MOAT_TRY_VOID(cgroups_->HandControllersDown(spec.id));
  MOAT_TRY(auto init, StartInitProcess(options_.init_path, seccomp_fd.get(), birth_group.get(),
                                       cgroup_namespace.get()));
  config.born_in_cgroup2_init_dir = init.born_in_cgroup;
  config.cgroup_namespace_made = bool(cgroup_namespace);
  if (!config.cgroup2_init_dir.empty()) {
    // In a leaf, moat-init born without the host's namespace still moves (EnterCgroupNamespace).
    bool in_leaf = config.cgroup2_init_dir != config.cgroup2_dir;
    info.cgroup_entry =
        init.born_in_cgroup && (!in_leaf || config.cgroup_namespace_made) ? "born" : "moved";
  }
  ScopeGuard kill_init([&] {
    ::kill(init.pid, SIGKILL);
    ::waitpid(init.pid, nullptr, 0);
  });
  // Limits only now: moat-init may have been born in the group, and until its execve it is
  // borrowing our memory while we wait, so it should not be throttled there. Until it reads
  // its configuration it does nothing.
  if (!(spec.limits == Limits{})) MOAT_TRY_VOID(cgroups_->ApplyToNewGroup(spec.id, spec.limits));
  MOAT_TRY_VOID(SendControlMessage(init.setup_socket.get(), SetupConfigToJson(config)));
  MOAT_TRY_VOID_CTX(AwaitReady(init, user, id_base), "set up session '" + spec.id + "'");
  info.pid = init.pid;
  info.start_time = ProcessStartTime(init.pid).value_or(0);
  info.running = true;
  info.host_id_base = id_base;
  lease.Persist();  // from here on RemoveSessionTraces owns the slot
  MOAT_TRY_VOID(WriteSessionState(dir + "/state.json", info));

  kill_init.Dismiss();
  remove_traces.Dismiss();
  return info;
}

Result<SessionInfo> SessionManager::Find(const std::string& id) const {
  if (!IsValidSessionId(id)) return Fail(InvalidArgument("session id '" + id + "' is invalid"));
  std::string state = SessionDir(id) + "/state.json";
  if (::access(state.c_str(), F_OK) != 0) {
    return Fail(Error(std::make_error_code(std::errc::no_such_file_or_directory),
                      "no session '" + id + "'"));
  }
  MOAT_TRY(auto info, ReadSessionState(state));
  info.running = IsSameLiveProcess(info.pid, info.start_time);
  return info;
}

Result<std::vector<SessionInfo>> SessionManager::List() const {
  std::vector<SessionInfo> sessions;
  std::string root = options_.run_dir + "/sessions";
  DIR* dir = ::opendir(root.c_str());
  if (dir == nullptr && errno == ENOENT) return sessions;  // no session was ever made here
  if (dir == nullptr) return FailErrno("opendir", root);
  while (struct dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    auto info = Find(entry->d_name);
    if (info) sessions.push_back(std::move(*info));
  }
  ::closedir(dir);
  return sessions;
}

Status SessionManager::Stop(const std::string& id, std::chrono::milliseconds grace) {
  MOAT_TRY(auto info, Find(id));
  if (info.running) {
    // A frozen moat-init could not act on the shutdown request.
    if (cgroups_->Frozen(info.cgroup)) (void)cgroups_->Thaw(info.cgroup);
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, info.pid, 0)));
    auto client = ControlClient::Connect(info.control_socket);
    bool asked = client && client->SetTimeout(std::chrono::seconds(2)) && client->Shutdown(grace);
    int wait_ms = static_cast<int>(grace.count()) + 2000;
    if (!asked || !pidfd || !WaitForExit(pidfd.get(), wait_ms)) {
      // moat-init did not answer or did not finish: killing the pid namespace's init kills
      // every process in it; the cgroup kill catches anything that escaped into a new group.
      if (IsSameLiveProcess(info.pid, info.start_time)) ::kill(info.pid, SIGKILL);
      (void)cgroups_->Kill(info.cgroup);
      if (pidfd) WaitForExit(pidfd.get(), 5000);
    }
    // Reap it if it was our child (a foreground run); harmless otherwise.
    ::waitpid(info.pid, nullptr, WNOHANG);
  }
  return RemoveSessionTraces(info);
}

Status SessionManager::Reap(const std::string& id) {
  MOAT_TRY(auto info, Find(id));
  if (info.running) return {};
  ::waitpid(info.pid, nullptr, WNOHANG);
  return RemoveSessionTraces(info);
}

Status SessionManager::RemoveSessionTraces(const SessionInfo& info) {
  Status result;
  if (!info.cgroup.empty() && cgroups_->Exists(info.cgroup)) {
    // Once moat-init has gone its pid namespace is empty; a kill is needed only for what
    // escaped into the group some other way.
    if (cgroups_->Populated(info.cgroup)) (void)cgroups_->Kill(info.cgroup);
    result = cgroups_->Destroy(info.cgroup);
  }
  std::string dir = SessionDir(info.id);
  for (const char* name : {"/state.json", "/state.json.tmp", "/control.sock"}) {
    ::unlink((dir + name).c_str());
  }
  // The session is gone, so nothing can add to its host dirs while they are removed.
  if (auto removed = RemoveHostDirs(dir); !removed && result) result = removed;
  // The root was mounted only inside the session's mount namespace: here it is an empty dir.
  ::rmdir((dir + "/root").c_str());
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT && result) result = FailErrno("rmdir", dir);
  // A group that could not be removed may still hold processes of the session: its range stays
  // leased until the group is gone (id_map.h's stale-lease rule frees it then).
  bool group_left = !info.cgroup.empty() && cgroups_->Exists(info.cgroup);
  if (info.host_id_base != 0 && !group_left) {
    ReleaseIdSlot(options_.id_lease_dir, info.id_slot, dir);
  }
  return result;
}

Result<std::string> SessionManager::GroupOf(const std::string& id, const std::string& app) const {
  MOAT_TRY(auto info, Find(id));
  if (!info.running) {
    return Fail(InvalidArgument("session '" + id + "' has ended; 'stop' it to clean up"));
  }
  if (!cgroups_->Exists(info.cgroup)) {
    return Fail(Error(std::make_error_code(std::errc::no_such_file_or_directory),
                      "session '" + id +
                          "' has no cgroup under this manager's parent group "
                          "(was it started with another --cgroup-parent?)"));
  }
  if (app.empty()) return info.cgroup;
  std::string name = app.starts_with("app-") ? app : "app-" + app;
  bool digits = name.size() > 4 && name.find_first_not_of("0123456789", 4) == std::string::npos;
  if (!digits || !cgroups_->Exists(info.cgroup + "/" + name)) {
    return Fail(Error(std::make_error_code(std::errc::no_such_file_or_directory),
                      "session '" + id + "' has no running application '" + app + "'"));
  }
  return info.cgroup + "/" + name;
}

Status SessionManager::SetLimits(const std::string& id, const std::string& app,
                                 const Limits& limits) {
  MOAT_TRY(auto group, GroupOf(id, app));
  return cgroups_->Apply(group, limits);
}

Result<Limits> SessionManager::ReadLimits(const std::string& id, const std::string& app) const {
  MOAT_TRY(auto group, GroupOf(id, app));
  return cgroups_->ReadLimits(group);
}

Result<CgroupUsage> SessionManager::Usage(const std::string& id, const std::string& app) const {
  MOAT_TRY(auto group, GroupOf(id, app));
  MOAT_TRY(auto usage, cgroups_->Usage(group));
  if (app.empty() && !usage.frozen) {
    // On cgroup v1 the kills in application groups that are gone live only in moat-init.
    MOAT_TRY(auto info, Find(id));
    auto client = ControlClient::Connect(info.control_socket);
    if (client && client->SetTimeout(std::chrono::milliseconds(500))) {
      if (auto reply = client->Call({{"op", "info"}})) {
        usage.oom_kills += reply->value("ended_app_oom_kills", uint64_t{0});
      }
    }
  }
  return usage;
}

Result<std::vector<std::string>> SessionManager::Applications(const std::string& id) const {
  MOAT_TRY(auto group, GroupOf(id, ""));
  MOAT_TRY(auto children, cgroups_->Children(group));
  std::vector<std::string> apps;
  for (auto& child : children) {
    if (child.starts_with("app-")) apps.push_back(std::move(child));
  }
  return apps;
}

Status SessionManager::Freeze(const std::string& id) {
  MOAT_TRY(auto group, GroupOf(id, ""));
  auto frozen = cgroups_->Freeze(group);
  // A freeze that did not finish leaves part of the session stopped: undo it, so that a
  // refused freeze changes nothing.
  if (!frozen) (void)cgroups_->Thaw(group);
  return frozen;
}

Status SessionManager::Thaw(const std::string& id) {
  MOAT_TRY(auto group, GroupOf(id, ""));
  return cgroups_->Thaw(group);
}

}  // namespace moat::sandbox
