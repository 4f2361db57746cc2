// The sandbox backend: every session is a namespace wall built by libmoat-sandbox. All state
// lives in the kernel and the run directory, so a new SandboxBackend on the same run directory
// (the agent after a restart) sees and drives the sessions an earlier one created.
#pragma once

#include <memory>

#include "backend.h"
#include "desktop_launcher.h"
#include "moat/sandbox/session_manager.h"

namespace moat::agent {

class SandboxBackend final : public Backend {
 public:
  static Result<std::unique_ptr<SandboxBackend>> Open(sandbox::ManagerOptions options,
                                                      DesktopOptions desktop = {});

  std::string_view Kind() const override { return "sandbox"; }
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
  const sandbox::CgroupDriver& Cgroups() const override;

  sandbox::SessionManager& manager() { return *manager_; }

 private:
  SandboxBackend(std::unique_ptr<sandbox::SessionManager> manager, DesktopOptions desktop)
      : manager_(std::move(manager)), desktop_(std::move(desktop)) {}

  // The session's record, if it runs.
  Result<sandbox::SessionInfo> FindRunning(const std::string& session) const;

  std::unique_ptr<sandbox::SessionManager> manager_;
  DesktopOptions desktop_;
};

}  // namespace moat::agent
