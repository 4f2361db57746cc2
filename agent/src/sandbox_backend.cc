#include "sandbox_backend.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>

#include "limits_conversion.h"
#include "moat/sandbox/control_client.h"
#include "resolve_limits.h"
#include "session_processes.h"

namespace moat::agent {
namespace {

BackendSession FromInfo(const sandbox::SessionInfo& info) {
  return BackendSession{info.id, info.user, info.running, info.created_unix, info.cgroup, ""};
}

}  // namespace

Result<std::unique_ptr<SandboxBackend>> SandboxBackend::Open(sandbox::ManagerOptions options,
                                                             DesktopOptions desktop) {
  MOAT_TRY(auto manager, sandbox::SessionManager::Open(std::move(options)));
  return std::unique_ptr<SandboxBackend>(
      new SandboxBackend(std::move(manager), std::move(desktop)));
}

Result<BackendSession> SandboxBackend::Create(const wire::SessionCreate& spec) {
  if (spec.backend != wire::Backend::kSandbox) {
    return Fail(InvalidArgument("the sandbox backend cannot create a '" +
                                std::string(wire::BackendName(spec.backend)) + "' session"));
  }
  sandbox::SessionSpec session;
  session.id = spec.session_id;
  session.user = spec.user;
  MOAT_TRY(session.limits, ResolveLimits(spec.limits));
  if (!spec.desktop) {
    MOAT_TRY(auto info, manager_->Create(std::move(session)));
    return FromInfo(info);
  }
  session.host_dirs.push_back(kDisplayHostDir);
  MOAT_TRY(auto info, manager_->Create(std::move(session)));
  DesktopRequest request{spec.geometry.value_or(desktop_.geometry),
                         spec.depth.value_or(desktop_.depth)};
  auto desktop = StartDesktop(*manager_, info, request, desktop_);
  if (!desktop) {
    (void)manager_->Stop(info.id, std::chrono::milliseconds(200));
    return Fail(std::move(desktop).error().Wrap("start desktop"));
  }
  BackendSession out = FromInfo(info);
  out.rfb_socket = desktop->rfb_socket;
  return out;
}

Result<sandbox::SessionInfo> SandboxBackend::FindRunning(const std::string& session) const {
  MOAT_TRY(auto info, manager_->Find(session));
  if (!info.running) return Fail(InvalidArgument("session '" + session + "' has ended"));
  return info;
}

Result<LaunchedApp> SandboxBackend::Launch(const std::string& session, const AppLaunch& app) {
  MOAT_TRY(auto info, FindRunning(session));
  // A refused limit must launch nothing: check it before anything starts.
  const bool has_limits = !(app.limits == wire::SessionLimits{});
  MOAT_TRY(auto limits, ResolveLimits(app.limits));
  MOAT_TRY(auto client, sandbox::ControlClient::Connect(info.control_socket));
  MOAT_TRY_VOID(client.SetTimeout(std::chrono::seconds(5)));
  sandbox::LaunchRequest request;
  request.argv = app.argv;
  request.env = app.env;
  request.cwd = app.cwd;
  // An application started by the agent gets /dev/null: the agent's stdio is its transport.
  UniqueFd dev_null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!dev_null) return FailErrno("open", "/dev/null");
  int fd = dev_null.get();
  MOAT_TRY(auto launched, client.Launch(request, fd, fd, fd));
  LaunchedApp out;
  out.pid = launched.pid;
  out.app = launched.group;
  if (has_limits) {
    // moat-init makes the group as it starts the application, so the limits can only follow;
    // the application runs without them for the moment in between (one control round trip).
    if (auto applied = manager_->SetLimits(session, out.app, limits); !applied) {
      (void)Signal(session, out.pid, SIGKILL);
      return Fail(std::move(applied).error().Wrap("limit application '" + out.app + "'"));
    }
  }
  return out;
}

Result<std::vector<wire::ProcessInfo>> SandboxBackend::Processes(const std::string& session) const {
  MOAT_TRY(auto info, FindRunning(session));
  MOAT_TRY(auto processes, ListSessionProcesses(manager_->cgroups(), info));
  std::vector<wire::ProcessInfo> out;
  out.reserve(processes.size());
  for (auto& process : processes) out.push_back(std::move(process.info));
  return out;
}

Status SandboxBackend::Signal(const std::string& session, pid_t pid, int signal) {
  if (pid == 1) {
    return Fail(InvalidArgument("pid 1 is moat-init, the session itself: end the session instead"));
  }
  if (pid < 1 || signal < 1 || signal >= NSIG) {
    return Fail(
        InvalidArgument("bad pid " + std::to_string(pid) + " or signal " + std::to_string(signal)));
  }
  MOAT_TRY(auto info, FindRunning(session));
  return SignalSessionProcess(manager_->cgroups(), info, pid, signal);
}

Status SandboxBackend::SetLimits(const std::string& session, const std::string& app,
                                 const wire::SessionLimits& limits) {
  MOAT_TRY(auto resolved, ResolveLimits(limits));
  return manager_->SetLimits(session, app, resolved);
}

Result<wire::SessionLimits> SandboxBackend::ReadLimits(const std::string& session,
                                                       const std::string& app) const {
  MOAT_TRY(auto limits, manager_->ReadLimits(session, app));
  return ToWireLimits(limits);
}

Result<sandbox::CgroupUsage> SandboxBackend::Usage(const std::string& session,
                                                   const std::string& app) const {
  return manager_->Usage(session, app);
}

Result<std::vector<std::string>> SandboxBackend::ListApps(const std::string& session) const {
  return manager_->Applications(session);
}

Status SandboxBackend::Freeze(const std::string& session) { return manager_->Freeze(session); }

Status SandboxBackend::Thaw(const std::string& session) { return manager_->Thaw(session); }

Status SandboxBackend::End(const std::string& session, std::chrono::milliseconds grace) {
  return manager_->Stop(session, grace);
}

Result<std::vector<BackendSession>> SandboxBackend::List() const {
  MOAT_TRY(auto infos, manager_->List());
  std::vector<BackendSession> sessions;
  sessions.reserve(infos.size());
  for (const auto& info : infos) {
    BackendSession session = FromInfo(info);
    // A desktop session (this agent's or a previous one's) has its RFB socket in the display
    // host dir; lstat, since the name inside the session's dir must be a socket, nothing else.
    std::string socket = manager_->HostDirPath(info.id, kDisplayHostDir) + "/rfb.sock";
    struct stat st {};
    if (info.running && ::lstat(socket.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      session.rfb_socket = socket;
    }
    sessions.push_back(std::move(session));
  }
  return sessions;
}

const sandbox::CgroupDriver& SandboxBackend::Cgroups() const { return manager_->cgroups(); }

}  // namespace moat::agent
