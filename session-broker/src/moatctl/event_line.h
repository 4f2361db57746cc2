// One human line for an event of /api/v1/events (docs/api.md, "Events").
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace moat::ctl {

// "15:04:05 session.state s-3f… alice@node1 starting -> active"; an event of an unknown type
// is shown as its JSON.
std::string EventLine(const nlohmann::json& event);

}  // namespace moat::ctl
