// The system groups of a user, for group policies.
#pragma once

#include <string>
#include <vector>

namespace moat::broker {

// None for a user without a system account. Thread-safe (the _r lookups): handlers call it
// from many threads at once.
std::vector<std::string> SystemGroups(const std::string& user);

}  // namespace moat::broker
