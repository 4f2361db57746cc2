// Session limits from the command line: KEY=VALUE with the API's keys (docs/api.md), "max" to
// lift a limit, and K/M/G/T sizes for the memory keys. Checked against the same ranges as the
// broker and the sandbox (wire::CheckLimitRanges), so a bad value is a usage error here.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "moat/common/error.h"

namespace moat::ctl {

// {"memory_max": 536870912, "cpu_percent": 50, "pids_max": "max"} from
// {"memory_max=512M", "cpu_percent=50", "pids_max=max"}.
Result<nlohmann::json> ParseLimitArgs(const std::vector<std::string>& args);

}  // namespace moat::ctl
