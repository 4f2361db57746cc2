#include "backend_set.h"

#include <algorithm>

namespace moat::agent {

BackendSet::BackendSet(std::unique_ptr<SandboxBackend> sandbox, std::unique_ptr<VmBackend> vm,
                       std::string vm_missing)
    : sandbox_(std::move(sandbox)), vm_(std::move(vm)), vm_missing_(std::move(vm_missing)) {}

Status BackendSet::Supports(wire::Backend kind) const {
  if (kind == wire::Backend::kSandbox) return {};
  if (vm_) return {};
  return Fail(InvalidArgument("this host runs no VM sessions: " + vm_missing_));
}

Backend& BackendSet::Of(const std::string& session) const {
  if (vm_) {
    // The VM backend's sessions are in memory (adopted at start): no disk scan per call.
    auto sessions = vm_->List();
    if (sessions && std::any_of(sessions->begin(), sessions->end(),
                                [&](const BackendSession& s) { return s.session_id == session; })) {
      return *vm_;
    }
  }
  return *sandbox_;
}

Result<BackendSession> BackendSet::Create(const wire::SessionCreate& spec) {
  MOAT_TRY_VOID(Supports(spec.backend));
  if (spec.backend == wire::Backend::kVm) return vm_->Create(spec);
  return sandbox_->Create(spec);
}

Result<LaunchedApp> BackendSet::Launch(const std::string& session, const AppLaunch& app) {
  return Of(session).Launch(session, app);
}

Result<std::vector<wire::ProcessInfo>> BackendSet::Processes(const std::string& session) const {
  return Of(session).Processes(session);
}

Status BackendSet::Signal(const std::string& session, pid_t pid, int signal) {
  return Of(session).Signal(session, pid, signal);
}

Status BackendSet::SetLimits(const std::string& session, const std::string& app,
                             const wire::SessionLimits& limits) {
  return Of(session).SetLimits(session, app, limits);
}

Result<wire::SessionLimits> BackendSet::ReadLimits(const std::string& session,
                                                   const std::string& app) const {
  return Of(session).ReadLimits(session, app);
}

Result<sandbox::CgroupUsage> BackendSet::Usage(const std::string& session,
                                               const std::string& app) const {
  return Of(session).Usage(session, app);
}

Result<std::vector<std::string>> BackendSet::ListApps(const std::string& session) const {
  return Of(session).ListApps(session);
}

Status BackendSet::Freeze(const std::string& session) { return Of(session).Freeze(session); }

Status BackendSet::Thaw(const std::string& session) { return Of(session).Thaw(session); }

Status BackendSet::End(const std::string& session, std::chrono::milliseconds grace) {
  return Of(session).End(session, grace);
}

Result<std::vector<BackendSession>> BackendSet::List() const {
  MOAT_TRY(auto sessions, sandbox_->List());
  if (vm_) {
    // A VM session's QEMU runs in a wall of the same SessionManager: it is the VM backend's
    // session, not a sandbox one.
    MOAT_TRY(auto vms, vm_->List());
    std::erase_if(sessions, [&](const BackendSession& s) {
      return std::any_of(vms.begin(), vms.end(),
                         [&](const BackendSession& v) { return v.session_id == s.session_id; });
    });
    for (auto& session : vms) sessions.push_back(std::move(session));
  }
  return sessions;
}

}  // namespace moat::agent
