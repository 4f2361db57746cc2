// The one interface between the agent and whatever builds a session's wall: the namespace
// sandbox (sandbox_backend.h) or, later, a QEMU microVM. Nothing above it knows which backend a
// session has. Calls are synchronous and made from the agent's one loop thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "moat/common/error.h"
#include "moat/common/wire/messages.h"
#include "moat/sandbox/cgroup_driver.h"

namespace moat::agent {

// One session as the backend sees it now: what runs, for the re-adoption report and the
// broker's reconciliation.
struct BackendSession {
  std::string session_id;
  std::string user;
  bool running = false;  // false: it ended by itself; End() removes what it left
  int64_t created_unix = 0;
  std::string cgroup;  // its group under the backend's CgroupDriver, for usage sampling
  // A desktop session's RFB Unix socket on the host, for the display gateway; empty without one.
  // Set by Create once the desktop is ready.
  std::string rfb_socket;
  wire::Backend backend = wire::Backend::kSandbox;  // which wall holds it
};

// An application to start inside a running session.
struct AppLaunch {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "K=V"
  std::string cwd;               // empty: the user's home
  // Limits of the application's own group (a CPU cap, say), validated before it starts and
  // applied right after; if they cannot be applied the application is killed again.
  wire::SessionLimits limits;
};

struct LaunchedApp {
  pid_t pid = 0;    // inside the session
  std::string app;  // its sub-group, "app-N", for SetLimits/Usage; empty if not found
};

class Backend {
 public:
  virtual ~Backend() = default;

  // "sandbox" or "vm"; "sandbox+vm" for BackendSet, which serves both.
  virtual std::string_view Kind() const = 0;
  // Whether Create can build a session of `kind` here; if not, the reason (the VM backend
  // without a guest image names what is missing).
  virtual Status Supports(wire::Backend kind) const {
    if (wire::BackendName(kind) == Kind()) return {};
    return Fail(
        InvalidArgument("this host has no '" + std::string(wire::BackendName(kind)) + "' backend"));
  }

  // Builds the wall and starts the session in it; with `desktop`, returns once the desktop is
  // ready (its RFB socket answers and the window manager runs). On failure nothing is left.
  virtual Result<BackendSession> Create(const wire::SessionCreate& spec) = 0;
  virtual Result<LaunchedApp> Launch(const std::string& session, const AppLaunch& app) = 0;
  // Every process of the session as the session sees it (in-session pids, its own uids), with
  // the application group each belongs to. Works while the session is frozen.
  virtual Result<std::vector<wire::ProcessInfo>> Processes(const std::string& session) const = 0;
  // Sends `signal` to the session's process `pid` (in-session). Refuses pid 1, the session's
  // init (ending the session is End()); fails with ESRCH when there is no such process.
  virtual Status Signal(const std::string& session, pid_t pid, int signal) = 0;
  // `app` empty: the whole session. Validated first; a refused change changes nothing.
  virtual Status SetLimits(const std::string& session, const std::string& app,
                           const wire::SessionLimits& limits) = 0;
  // The effective limits, read back from the kernel.
  virtual Result<wire::SessionLimits> ReadLimits(const std::string& session,
                                                 const std::string& app) const = 0;
  virtual Result<sandbox::CgroupUsage> Usage(const std::string& session,
                                             const std::string& app) const = 0;
  virtual Result<std::vector<std::string>> ListApps(const std::string& session) const = 0;
  virtual Status Freeze(const std::string& session) = 0;
  virtual Status Thaw(const std::string& session) = 0;
  // SIGTERM, SIGKILL after `grace`, then every trace goes. Also cleans up an ended session.
  virtual Status End(const std::string& session, std::chrono::milliseconds grace) = 0;
  // Every session this backend has on this host, running or ended-but-not-cleaned-up,
  // including those a previous agent process created.
  virtual Result<std::vector<BackendSession>> List() const = 0;

  // Where BackendSession::cgroup lives, for UsageCollector's sampler.
  virtual const sandbox::CgroupDriver& Cgroups() const = 0;
};

}  // namespace moat::agent
