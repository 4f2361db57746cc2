// How a session object of the API reads to a person: a table row of `sessions ls` and the
// "key: value" lines of `sessions show` (also printed by create, limit, suspend, …).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace moat::ctl {

std::vector<std::string> SessionHeaders();  // ID USER HOST STATE BACKEND CPU% MEM AGE
std::vector<std::string> SessionRow(const nlohmann::json& session);
// `effective`: the limits read back from the kernel, when known (null otherwise).
std::vector<std::pair<std::string, std::string>> SessionFields(const nlohmann::json& session,
                                                               const nlohmann::json& effective);
// "cpu_percent=50 memory_max=512M", "-" for none.
std::string FormatLimits(const nlohmann::json& limits);

}  // namespace moat::ctl
