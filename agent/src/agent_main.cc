// moat-agent: one per session host. Builds, throttles, suspends, ends and re-adopts session
// walls through the backend, and streams their usage once a second.
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "agent_options.h"
#include "message_handler.h"
#include "moat/common/log.h"
#include "moat/common/wire/envelope.h"
#include "moat/sandbox/cgroup_driver.h"
#include "sandbox_backend.h"
#include "stdio_link.h"
#include "usage_collector.h"

namespace {

using namespace moat;

// The usage sampler keeps about 14 counter files open per session: 1024 fds would cap a host
// at ~70 sessions.
void RaiseFileLimit() {
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    log::Warning("raise RLIMIT_NOFILE to its hard limit failed, ignoring");
  }
}

Result<std::unique_ptr<agent::SandboxBackend>> OpenBackend(const agent::AgentOptions& options) {
  sandbox::ManagerOptions manager;
  manager.run_dir = options.run_dir;
  if (options.cgroup_parent == "delegated") {
    MOAT_TRY_CTX(manager.cgroups, sandbox::DelegatedCgroupOptions(manager.cgroups),
                 "use the delegated cgroup");
  } else {
    manager.cgroups.parent = options.cgroup_parent;
  }
  return agent::SandboxBackend::Open(std::move(manager));
}

}  // namespace

int main(int argc, char** argv) {
  log::SetFormat(log::DetectFormat());
  auto options = agent::ParseAgentOptions(std::vector<std::string>(argv + 1, argv + argc));
  if (!options) {
    std::fprintf(stderr, "moat-agent: %s\n%s", options.error().message().c_str(),
                 agent::kAgentUsage);
    return 2;
  }
  if (options->mode == agent::Mode::kHelp) {
    std::fputs(agent::kAgentUsage, stdout);
    return 0;
  }
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout is a write error, handled where it happens
  RaiseFileLimit();

  auto backend = OpenBackend(*options);
  if (!backend) {
    log::Error("start failed", {{"error", backend.error().message()}});
    return 1;
  }
  agent::MessageHandler handler(**backend);
  if (options->mode == agent::Mode::kOnceList) {
    std::printf("%s\n", wire::EncodeEnvelope(wire::MakeMessage(handler.MakeHello())).c_str());
    return 0;
  }
  // Sessions that ended while no agent ran are cleaned up before the broker hears of them.
  agent::ReapEndedSessions(**backend);
  agent::UsageCollector collector(**backend);
  log::Info("agent ready",
            {{"run_dir", options->run_dir}, {"cgroups", (*backend)->Cgroups().Version()}});
  return agent::RunStdioLink(**backend, handler, collector);
}
