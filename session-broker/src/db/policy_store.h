// Policies by scope: a user's own setting over a group's over the global one over the built-in
// default. Keys and values are checked before anything is written; every change is audited with
// the old and new values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "db/audit.h"
#include "db/clock.h"
#include "db/database.h"

namespace moat::broker::db {

enum class PolicyScope { kGlobal, kGroup, kUser };
std::string_view ToString(PolicyScope scope);
std::optional<PolicyScope> ParsePolicyScope(std::string_view text);

// The keys, with what their JSON values must be.
//   sessions_per_user       integer 1..1000
//   idle_timeout_s          integer seconds, 0 = never
//   disconnected_timeout_s  integer seconds, 0 = never
//   max_lifetime_s          integer seconds, 0 = unlimited
//   default_limits          object of session limits (cpu_percent, memory_max, …); merged key by
//                           key across scopes, the narrower scope winning
//   backend                 "sandbox" or "vm"
//   desktop_geometry        "WIDTHxHEIGHT", each 320..8192 (a create request may say otherwise)
//   desktop_depth           16 or 24
//   display_takeover        true: a second login takes a connected desktop over; false: refused
std::span<const std::string_view> PolicyKeys();
Status CheckPolicyValue(std::string_view key, std::string_view value_json);

struct PolicyEntry {
  PolicyScope scope = PolicyScope::kGlobal;
  std::string subject{};  // user or group name, "" for global
  std::string key{};
  std::string value{};  // JSON
  std::int64_t updated_at = 0;
  std::optional<std::int64_t> updated_by{};
};

struct EffectivePolicy {
  std::int64_t sessions_per_user = 2;
  std::int64_t idle_timeout_s = 0;
  std::int64_t disconnected_timeout_s = 8 * 3600;
  std::int64_t max_lifetime_s = 0;
  std::string default_limits = "{}";
  std::string backend = "sandbox";
  std::string desktop_geometry = "1280x800";
  std::int64_t desktop_depth = 24;
  bool display_takeover = true;
  // Where each key's value came from: "default", "global", "group:<name>", "user:<name>".
  std::map<std::string, std::string> sources{};
};

class PolicyStore {
 public:
  explicit PolicyStore(const Database& db, Clock clock = SystemClock())
      : db_(db), clock_(std::move(clock)) {}

  Status Set(PolicyScope scope, std::string_view subject, std::string_view key,
             std::string_view value_json, const Actor& actor);
  // Removing an absent policy is an error (NotFound) and changes nothing.
  Status Remove(PolicyScope scope, std::string_view subject, std::string_view key,
                const Actor& actor);
  Result<std::optional<std::string>> Get(PolicyScope scope, std::string_view subject,
                                         std::string_view key) const;
  Result<std::vector<PolicyEntry>> List() const;

  // The policy for `user`, a member of `groups`; when groups disagree, the earlier group wins.
  Result<EffectivePolicy> Effective(std::string_view user,
                                    std::span<const std::string> groups) const;

 private:
  const Database& db_;
  Clock clock_;
};

}  // namespace moat::broker::db
