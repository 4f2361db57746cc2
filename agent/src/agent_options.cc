#include "agent_options.h"

#include <sstream>

namespace moat::agent {

const char kAgentUsage[] =
    "usage: moat-agent [--run-dir DIR] [--cgroup-parent PATH|delegated]\n"
    "                  (--broker URL [--token T | --token-file F] | --link URL | --stdio |\n"
    "                   --once-list) [--cert-dir DIR] [--name HOST] [--capacity N]\n"
    "                  [--vm-guest DIR|none] [--desktop-startup CMD] [--window-manager WM]\n"
    "\n"
    "  --broker URL          the broker's API, https://broker:8443; the first start enrols this\n"
    "                        host with a one-time token from 'moatctl hosts token', later starts\n"
    "                        use the certificate kept in --cert-dir\n"
    "  --token T             the enrolment token (SECRET.CA_SHA256)\n"
    "  --token-file F        a file holding it (kept out of the process list)\n"
    "  --link URL            connect the agent link here (wss://…/api/v1/agent) with the\n"
    "                        certificate in --cert-dir; no enrolment (the broker's local agent)\n"
    "  --cert-dir DIR        agent.key, agent.crt, ca.crt, link.url (default /var/lib/moat-agent)\n"
    "  --name HOST           this host's name at the broker (default: hostname)\n"
    "  --capacity N          sessions this host takes, told at enrolment (default 50)\n"
    "  --run-dir DIR         session state and control sockets (default /run/moat)\n"
    "  --cgroup-parent P     Moat's parent cgroup (default 'moat'); 'delegated' under systemd's\n"
    "                        Delegate=yes puts sessions inside the agent's own cgroup\n"
    "  --vm-guest DIR        the VM sessions' guest image, as agent/vm/build-guest.sh --output "
    "DIR\n"
    "                        builds it (default $MOAT_VM_GUEST, else /var/cache/moat-vm/guest);\n"
    "                        'none' turns VM sessions off. Without it, or without QEMU, the\n"
    "                        agent serves sandbox sessions only and says why in its log\n"
    "  --desktop-startup CMD what a desktop runs when the user has no executable\n"
    "                        ~/.config/moat/session (default 'xterm'; words split on spaces)\n"
    "  --window-manager WM   the desktops' window manager (default 'openbox'); the desktop is\n"
    "                        ready once openbox sets _OB_THEME, another once it sets the\n"
    "                        EWMH _NET_SUPPORTING_WM_CHECK\n"
    "  --stdio               serve the agent link as newline-delimited JSON envelopes on\n"
    "                        stdin/stdout: host.hello first, replies, usage.batch every second\n"
    "                        (for tests and debugging)\n"
    "  --once-list           print the host.hello envelope (the sessions this host still runs)\n"
    "                        and exit\n";

Result<AgentOptions> ParseAgentOptions(const std::vector<std::string>& args) {
  AgentOptions options;
  bool mode_set = false;
  auto set_mode = [&](Mode mode) -> Status {
    if (mode_set && options.mode != mode) {
      return Fail(InvalidArgument("give one of '--broker', '--link', '--stdio' and '--once-list'"));
    }
    options.mode = mode;
    mode_set = true;
    return {};
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    std::string* value = arg == "--run-dir"          ? &options.run_dir
                         : arg == "--cgroup-parent"  ? &options.cgroup_parent
                         : arg == "--cert-dir"       ? &options.cert_dir
                         : arg == "--link"           ? &options.link_url
                         : arg == "--broker"         ? &options.broker_url
                         : arg == "--token"          ? &options.token
                         : arg == "--token-file"     ? &options.token_file
                         : arg == "--name"           ? &options.host_name
                         : arg == "--vm-guest"       ? &options.vm_guest
                         : arg == "--window-manager" ? &options.window_manager
                                                     : nullptr;
    if (arg == "--desktop-startup") {
      if (i + 1 >= args.size()) return Fail(InvalidArgument("'" + arg + "' needs a value"));
      options.desktop_startup.clear();
      std::istringstream words(args[++i]);
      for (std::string word; words >> word;) options.desktop_startup.push_back(word);
      if (options.desktop_startup.empty()) {
        return Fail(InvalidArgument("'--desktop-startup' needs a command, such as 'xterm'"));
      }
      continue;
    }
    if (value != nullptr || arg == "--capacity") {
      if (i + 1 >= args.size() || args[i + 1].empty()) {
        return Fail(InvalidArgument("'" + arg + "' needs a value"));
      }
      const std::string& text = args[++i];
      if (value != nullptr) {
        *value = text;
      } else {
        char* end = nullptr;
        long long capacity = std::strtoll(text.c_str(), &end, 10);
        if (*end != '\0' || capacity < 0 || capacity > 100000) {
          return Fail(InvalidArgument("'--capacity' must be 0 to 100000, not '" + text + "'"));
        }
        options.capacity = capacity;
      }
      if (arg == "--link" || arg == "--broker") {
        MOAT_TRY_VOID(set_mode(Mode::kLink));
      }
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
        "say where the broker is: '--broker URL' (or '--link URL', '--stdio', '--once-list')"));
  }
  if (!options.token.empty() && !options.token_file.empty()) {
    return Fail(InvalidArgument("give '--token' or '--token-file', not both"));
  }
  return options;
}

}  // namespace moat::agent
