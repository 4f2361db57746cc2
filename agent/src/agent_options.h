// moat-agent's command line.
#pragma once

#include <string>
#include <vector>

#include "moat/common/error.h"

namespace moat::agent {

enum class Mode { kStdio, kOnceList, kHelp };

struct AgentOptions {
  std::string run_dir = "/run/moat";
  std::string cgroup_parent = "moat";  // or "delegated"
  Mode mode = Mode::kHelp;
};

Result<AgentOptions> ParseAgentOptions(const std::vector<std::string>& args);
extern const char kAgentUsage[];

}  // namespace moat::agent
