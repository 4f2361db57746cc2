// moat-agent's command line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "moat/common/error.h"

namespace moat::agent {

enum class Mode { kLink, kStdio, kOnceList, kHelp };

struct AgentOptions {
  std::string run_dir = "/run/moat";
  std::string cgroup_parent = "moat";  // or "delegated"
  Mode mode = Mode::kHelp;
  // The agent link (kLink).
  std::string cert_dir = "/var/lib/moat-agent";
  std::string link_url;    // wss://…/api/v1/agent; default: the one saved at enrolment
  std::string broker_url;  // https://broker:8443, for enrolment
  std::string token;       // one-time enrolment token, or
  std::string token_file;  // a file holding it
  std::string host_name;   // default: the machine's hostname
  int64_t capacity = 50;   // sessions, reported at enrolment
  // VM sessions: the guest agent/vm/build-guest.sh built (guest.env). Empty: $MOAT_VM_GUEST,
  // else /var/cache/moat-vm/guest. "none" turns VM sessions off.
  std::string vm_guest;
  // Desktops: what runs when a user has no executable ~/.config/moat/session, split on spaces
  // (issue 6: "a configurable default such as an xterm"), and the window manager.
  std::vector<std::string> desktop_startup = {"xterm"};
  std::string window_manager = "openbox";
};

Result<AgentOptions> ParseAgentOptions(const std::vector<std::string>& args);
extern const char kAgentUsage[];

}  // namespace moat::agent
