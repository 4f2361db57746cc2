// The system groups of a user, for group policies.
#pragma once

#include <string>
#include <vector>

#include "db/policy_store.h"

namespace moat::broker {

// None for a user without a system account. Thread-safe (the _r lookups): handlers call it
// from many threads at once.
std::vector<std::string> SystemGroups(const std::string& user);

// The policy that applies to `user`: theirs, over their system groups', over the global one.
// Every caller that acts on a user's policy goes through here, so none forgets the groups.
Result<db::EffectivePolicy> EffectivePolicyOf(const db::Database& db, const std::string& user);

}  // namespace moat::broker
