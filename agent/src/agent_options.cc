#include "agent_options.h"

namespace moat::agent {

const char kAgentUsage[] =
    "usage: moat-agent [--run-dir DIR] [--cgroup-parent PATH|delegated] (--stdio | --once-list)\n"
    "\n"
    "  --run-dir DIR         session state and control sockets (default /run/moat)\n"
    "  --cgroup-parent P     Moat's parent cgroup (default 'moat'); 'delegated' under systemd's\n"
    "                        Delegate=yes puts sessions inside the agent's own cgroup\n"
    "  --stdio               serve the agent link as newline-delimited JSON envelopes on\n"
    "                        stdin/stdout: host.hello first, replies, usage.batch every second\n"
    "                        (stand-in transport until the WSS/mTLS link exists)\n"
    "  --once-list           print the host.hello envelope (the sessions this host still runs)\n"
    "                        and exit\n";

Result<AgentOptions> ParseAgentOptions(const std::vector<std::string>& args) {
  AgentOptions options;
  bool mode_set = false;
  auto set_mode = [&](Mode mode) -> Status {
    if (mode_set) return Fail(InvalidArgument("give one of '--stdio' and '--once-list'"));
    options.mode = mode;
    mode_set = true;
    return {};
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--run-dir" || arg == "--cgroup-parent") {
      if (i + 1 >= args.size() || args[i + 1].empty()) {
        return Fail(InvalidArgument("'" + arg + "' needs a value"));
      }
      (arg == "--run-dir" ? options.run_dir : options.cgroup_parent) = args[++i];
    } else if (arg == "--stdio") {
      MOAT_TRY_VOID(set_mode(Mode::kStdio));
    } else if (arg == "--once-list") {
      MOAT_TRY_VOID(set_mode(Mode::kOnceList));
    } else if (arg == "--help" || arg == "-h") {
      options.mode = Mode::kHelp;
      return options;
    } else {
      return Fail(InvalidArgument("unknown argument '" + arg + "'"));
    }
  }
  if (!mode_set) {
    return Fail(InvalidArgument(
        "no transport: the WSS link is not built yet; use '--stdio' or '--once-list'"));
  }
  return options;
}

}  // namespace moat::agent
