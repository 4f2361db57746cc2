// One agent, both kinds of session: routes each call to the sandbox backend or the VM backend
// by the session's backend (the request's, for Create). The sandbox backend is always there;
// the VM backend only when QEMU and a guest image are, and otherwise a create with backend
// "vm" fails with the reason it is missing. Both share the sandbox's CgroupDriver, so usage
// sampling reads every session's group the same way.
#pragma once

#include <memory>
#include <string>

#include "backend.h"
#include "sandbox_backend.h"
#include "vm_backend.h"

namespace moat::agent {

class BackendSet final : public Backend {
 public:
  // `vm` null: no VM sessions here, because of `vm_missing` (what is missing, for the error).
  BackendSet(std::unique_ptr<SandboxBackend> sandbox, std::unique_ptr<VmBackend> vm,
             std::string vm_missing);

  std::string_view Kind() const override { return vm_ ? "sandbox+vm" : "sandbox"; }
  Status Supports(wire::Backend kind) const override;
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
  const sandbox::CgroupDriver& Cgroups() const override { return sandbox_->Cgroups(); }

  SandboxBackend& sandbox() { return *sandbox_; }
  VmBackend* vm() { return vm_.get(); }

 private:
  // The backend that holds `session`: the VM backend's own sessions, everything else the
  // sandbox's (which then says whether it knows it).
  Backend& Of(const std::string& session) const;

  std::unique_ptr<SandboxBackend> sandbox_;
  std::unique_ptr<VmBackend> vm_;
  std::string vm_missing_;
};

}  // namespace moat::agent
