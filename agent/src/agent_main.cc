// moat-agent: one per session host. Builds, throttles, suspends, ends and re-adopts session
// walls through the backend, and streams their usage once a second.
#include <sys/resource.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "agent_options.h"
#include "backend_set.h"
#include "display_tunnel.h"
#include "enrolment.h"
#include "message_handler.h"
#include "moat/common/log.h"
#include "moat/common/wire/envelope.h"
#include "moat/sandbox/cgroup_driver.h"
#include "sandbox_backend.h"
#include "stdio_link.h"
#include "usage_collector.h"
#include "wss_link.h"

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

Result<std::unique_ptr<agent::SandboxBackend>> OpenSandbox(const agent::AgentOptions& options) {
  sandbox::ManagerOptions manager;
  manager.run_dir = options.run_dir;
  if (options.cgroup_parent == "delegated") {
    MOAT_TRY_CTX(manager.cgroups, sandbox::DelegatedCgroupOptions(manager.cgroups),
                 "use the delegated cgroup");
  } else {
    manager.cgroups.parent = options.cgroup_parent;
  }
  agent::DesktopOptions desktop;
  desktop.default_startup = options.desktop_startup;
  desktop.window_manager = options.window_manager;
  return agent::SandboxBackend::Open(std::move(manager), std::move(desktop));
}

// Both backends: VM sessions only where QEMU and the guest image are, and the log says which.
Result<std::unique_ptr<agent::BackendSet>> OpenBackend(const agent::AgentOptions& options) {
  MOAT_TRY(auto sandbox, OpenSandbox(options));
  std::string guest = options.vm_guest.empty() ? agent::DefaultVmGuestDir() : options.vm_guest;
  std::unique_ptr<agent::VmBackend> vm;
  std::string missing = "turned off with --vm-guest none";
  if (guest != "none") {
    agent::VmBackendOptions vm_options;
    vm_options.run_dir = options.run_dir;
    vm_options.guest_dir = guest;
    vm_options.desktop.default_startup = options.desktop_startup;
    vm_options.desktop.window_manager = options.window_manager;
    auto opened = agent::VmBackend::Open(std::move(vm_options), sandbox->manager());
    if (opened) {
      vm = std::move(*opened);
      log::Info(
          "VM sessions enabled",
          {{"guest", guest}, {"accel", vm->image().accel}, {"kernel", vm->image().kernel_package}});
    } else {
      missing = opened.error().message();
    }
  }
  if (!vm) log::Info("VM sessions disabled", {{"reason", missing}});
  return std::make_unique<agent::BackendSet>(std::move(sandbox), std::move(vm), missing);
}

std::atomic<bool> g_stop{false};

void OnStopSignal(int) { g_stop.store(true); }

// The identity kept in --cert-dir, or a new one by enrolment.
Result<agent::AgentIdentity> Identity(const agent::AgentOptions& options) {
  auto kept = agent::LoadIdentity(options.cert_dir);
  if (kept) {
    if (!options.link_url.empty()) kept->link_url = options.link_url;
    if (!kept->link_url.empty()) return kept;
  }
  if (!options.link_url.empty()) {
    return Fail(
        std::move(kept).error().Wrap("load the agent certificate from '" + options.cert_dir + "'"));
  }
  if (options.broker_url.empty()) {
    return Fail(InvalidArgument("not enrolled yet: give '--broker URL' and a token"));
  }
  std::string token = options.token;
  if (!options.token_file.empty()) {
    std::ifstream in(options.token_file);
    if (!in) return Fail(ErrnoError("open", options.token_file));
    std::getline(in, token);
  }
  if (token.empty()) {
    return Fail(
        InvalidArgument("not enrolled yet: give '--token T' or '--token-file F' (from "
                        "'moatctl hosts token')"));
  }
  agent::EnrolmentRequest request{options.broker_url, token, options.host_name, options.capacity};
  if (request.host_name.empty()) {
    char name[256] = {};
    ::gethostname(name, sizeof(name) - 1);
    request.host_name = name;
  }
  MOAT_TRY_CTX(auto identity, agent::Enrol(request, options.cert_dir), "enrol with the broker");
  log::Info("enrolled", {{"host", request.host_name}, {"link", identity.link_url}});
  return identity;
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
  agent::HandlerOptions handler_options;
  handler_options.host_name = options->host_name;
  agent::MessageHandler handler(**backend, handler_options);
  if (options->mode == agent::Mode::kOnceList) {
    std::printf("%s\n", wire::EncodeEnvelope(wire::MakeMessage(handler.MakeHello())).c_str());
    return 0;
  }
  // Sessions that ended while no agent ran are cleaned up before the broker hears of them.
  agent::ReapEndedSessions(**backend);
  agent::UsageCollector collector(**backend);
  log::Info("agent ready",
            {{"run_dir", options->run_dir}, {"cgroups", (*backend)->Cgroups().Version()}});
  if (options->mode == agent::Mode::kStdio) {
    return agent::RunStdioLink(**backend, handler, collector);
  }
  auto identity = Identity(*options);
  if (!identity) {
    log::Error("agent link", {{"error", identity.error().message()}});
    return 1;
  }
  agent::DisplayTunnels tunnels(*identity);
  handler.SetDisplayOpener([&tunnels](const std::string& rfb_socket, const std::string& ticket) {
    return tunnels.Open(rfb_socket, ticket);
  });
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
  return agent::RunWssLink(**backend, handler, collector, *identity, g_stop);
}
