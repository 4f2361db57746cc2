#include "db/policy_store.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "moat/common/desktop_geometry.h"
#include "moat/common/wire/messages.h"

namespace moat::broker::db {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kKeys[] = {
    "sessions_per_user", "idle_timeout_s", "disconnected_timeout_s",
    "max_lifetime_s",    "default_limits", "backend",
    "desktop_geometry",  "desktop_depth",  "display_takeover"};

constexpr std::pair<PolicyScope, std::string_view> kScopes[] = {
    {PolicyScope::kGlobal, "global"}, {PolicyScope::kGroup, "group"}, {PolicyScope::kUser, "user"}};

Status CheckInteger(std::string_view key, const Json& value, std::int64_t min, std::int64_t max) {
  if (!value.is_number_integer() || value.get<std::int64_t>() < min ||
      value.get<std::int64_t>() > max) {
    return Fail(InvalidArgument("policy '" + std::string(key) + "' must be an integer from " +
                                std::to_string(min) + " to " + std::to_string(max) + ", not " +
                                value.dump()));
  }
  return {};
}

// Read and range-checked as a create request's limits are (SessionService::Create): a default
// that every create would refuse is refused here instead.
Status CheckLimits(const Json& value) {
  if (!value.is_object()) {
    return Fail(
        InvalidArgument("policy 'default_limits' must be a JSON object, not " + value.dump()));
  }
  auto limits = wire::SessionLimitsFromJson(value, "default_limits");
  if (!limits) return Fail(std::move(limits).error().Wrap("policy 'default_limits'"));
  if (auto ranges = wire::CheckLimitRanges(*limits); !ranges) {
    return Fail(std::move(ranges).error().Wrap("policy 'default_limits'"));
  }
  return {};
}

Status CheckSubject(PolicyScope scope, std::string_view subject) {
  if (scope == PolicyScope::kGlobal && !subject.empty()) {
    return Fail(
        InvalidArgument("a global policy has no subject, got '" + std::string(subject) + "'"));
  }
  if (scope != PolicyScope::kGlobal && (subject.empty() || subject.size() > 64)) {
    return Fail(InvalidArgument("a " + std::string(ToString(scope)) +
                                " policy needs a subject name of 1 to 64 characters"));
  }
  return {};
}

// Applies one stored value to the effective policy.
void Apply(EffectivePolicy& policy, const std::string& key, const Json& value,
           const std::string& source) {
  if (key == "sessions_per_user") policy.sessions_per_user = value.get<std::int64_t>();
  if (key == "idle_timeout_s") policy.idle_timeout_s = value.get<std::int64_t>();
  if (key == "disconnected_timeout_s") policy.disconnected_timeout_s = value.get<std::int64_t>();
  if (key == "max_lifetime_s") policy.max_lifetime_s = value.get<std::int64_t>();
  if (key == "backend") policy.backend = value.get<std::string>();
  if (key == "desktop_geometry") policy.desktop_geometry = value.get<std::string>();
  if (key == "desktop_depth") policy.desktop_depth = value.get<std::int64_t>();
  if (key == "display_takeover") policy.display_takeover = value.get<bool>();
  if (key == "default_limits") {
    Json merged = Json::parse(policy.default_limits);
    merged.update(value);
    policy.default_limits = merged.dump();
    std::string& sources = policy.sources[key];
    sources = sources == "default" || sources.empty() ? source : sources + "," + source;
    return;
  }
  policy.sources[key] = source;
}

}  // namespace

std::string_view ToString(PolicyScope scope) {
  for (const auto& [value, name] : kScopes) {
    if (value == scope) return name;
  }
  return "global";
}

std::optional<PolicyScope> ParsePolicyScope(std::string_view text) {
  for (const auto& [value, name] : kScopes) {
    if (name == text) return value;
  }
  return std::nullopt;
}

std::span<const std::string_view> PolicyKeys() { return kKeys; }

Status CheckPolicyValue(std::string_view key, std::string_view value_json) {
  Json value = Json::parse(value_json, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return Fail(InvalidArgument("policy '" + std::string(key) + "' value '" +
                                std::string(value_json.substr(0, 80)) + "' is not JSON"));
  }
  constexpr std::int64_t kYear = 366 * 24 * 3600;
  if (key == "sessions_per_user") return CheckInteger(key, value, 1, 1000);
  if (key == "idle_timeout_s" || key == "disconnected_timeout_s" || key == "max_lifetime_s") {
    return CheckInteger(key, value, 0, kYear);
  }
  if (key == "default_limits") return CheckLimits(value);
  if (key == "backend") {
    if (value == "sandbox" || value == "vm") return {};
    return Fail(
        InvalidArgument("policy 'backend' must be \"sandbox\" or \"vm\", not " + value.dump()));
  }
  if (key == "desktop_geometry") {
    if (!value.is_string()) {
      return Fail(InvalidArgument("policy 'desktop_geometry' must be a string like \"1280x800\""));
    }
    return CheckDesktopGeometry(value.get<std::string>(), "desktop_geometry");
  }
  if (key == "desktop_depth") {
    if (!value.is_number_integer()) {
      return Fail(InvalidArgument("policy 'desktop_depth' must be 16 or 24"));
    }
    return CheckDesktopDepth(value.get<std::int64_t>(), "desktop_depth");
  }
  if (key == "display_takeover") {
    if (value.is_boolean()) return {};
    return Fail(InvalidArgument("policy 'display_takeover' must be true or false"));
  }
  return Fail(InvalidArgument("unknown policy key '" + std::string(key) +
                              "'; known: sessions_per_user, idle_timeout_s, "
                              "disconnected_timeout_s, max_lifetime_s, default_limits, backend, "
                              "desktop_geometry, desktop_depth, display_takeover"));
}

Status PolicyStore::Set(PolicyScope scope, std::string_view subject, std::string_view key,
                        std::string_view value_json, const Actor& actor) {
  MOAT_TRY_VOID(CheckSubject(scope, subject));
  MOAT_TRY_VOID(CheckPolicyValue(key, value_json));
  std::string value = Json::parse(value_json).dump();  // canonical form
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(std::optional<std::string> old, Get(scope, subject, key));
  MOAT_TRY(auto upsert,
           db_.Prepare("INSERT INTO policies (scope, subject, key, value, updated_at, updated_by) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (scope, subject, key) DO "
                       "UPDATE SET value = ?4, updated_at = ?5, updated_by = ?6"));
  MOAT_TRY_VOID(upsert.BindAll(ToString(scope), subject, key, value, now, actor.user_id));
  MOAT_TRY_VOID(upsert.Run());
  Json detail{{"scope", ToString(scope)}, {"subject", subject}, {"key", key}};
  MOAT_TRY_VOID(
      RecordEvent(db_, {std::nullopt, actor, "policy.set", old, value, detail.dump()}, now));
  return tx.Commit();
}

Status PolicyStore::Remove(PolicyScope scope, std::string_view subject, std::string_view key,
                           const Actor& actor) {
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(std::optional<std::string> old, Get(scope, subject, key));
  if (!old) {
    return Fail(NotFound("no " + std::string(ToString(scope)) + " policy '" + std::string(key) +
                         "'" + (subject.empty() ? "" : " for '" + std::string(subject) + "'")));
  }
  MOAT_TRY(auto remove, db_.Prepare("DELETE FROM policies WHERE scope = ? AND subject = ? AND "
                                    "key = ?"));
  MOAT_TRY_VOID(remove.BindAll(ToString(scope), subject, key));
  MOAT_TRY_VOID(remove.Run());
  Json detail{{"scope", ToString(scope)}, {"subject", subject}, {"key", key}};
  MOAT_TRY_VOID(RecordEvent(
      db_, {std::nullopt, actor, "policy.remove", old, std::nullopt, detail.dump()}, now));
  return tx.Commit();
}

Result<std::optional<std::string>> PolicyStore::Get(PolicyScope scope, std::string_view subject,
                                                    std::string_view key) const {
  MOAT_TRY(auto stmt, db_.Prepare("SELECT value FROM policies WHERE scope = ? AND subject = ? "
                                  "AND key = ?"));
  MOAT_TRY_VOID(stmt.BindAll(ToString(scope), subject, key));
  MOAT_TRY(bool row, stmt.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(stmt.Text(0));
}

Result<std::vector<PolicyEntry>> PolicyStore::List() const {
  MOAT_TRY(auto stmt, db_.Prepare("SELECT scope, subject, key, value, updated_at, updated_by "
                                  "FROM policies ORDER BY scope, subject, key"));
  std::vector<PolicyEntry> entries;
  while (true) {
    MOAT_TRY(bool row, stmt.Step());
    if (!row) break;
    entries.push_back(PolicyEntry{ParsePolicyScope(stmt.Text(0)).value_or(PolicyScope::kGlobal),
                                  stmt.Text(1), stmt.Text(2), stmt.Text(3), stmt.Int(4),
                                  stmt.OptionalInt(5)});
  }
  return entries;
}

Result<EffectivePolicy> PolicyStore::Effective(std::string_view user,
                                               std::span<const std::string> groups) const {
  EffectivePolicy policy;
  for (std::string_view key : kKeys) policy.sources[std::string(key)] = "default";
  // Broadest first, so each narrower layer overrides: global, groups from last to first, user.
  std::vector<std::pair<PolicyScope, std::string>> layers{{PolicyScope::kGlobal, ""}};
  for (auto group = groups.rbegin(); group != groups.rend(); ++group) {
    layers.emplace_back(PolicyScope::kGroup, *group);
  }
  layers.emplace_back(PolicyScope::kUser, std::string(user));
  MOAT_TRY(auto stmt,
           db_.Prepare("SELECT key, value FROM policies WHERE scope = ? AND subject = ?"));
  for (const auto& [scope, subject] : layers) {
    MOAT_TRY_VOID(stmt.BindAll(ToString(scope), subject));
    std::string source =
        scope == PolicyScope::kGlobal ? "global" : std::string(ToString(scope)) + ":" + subject;
    while (true) {
      MOAT_TRY(bool row, stmt.Step());
      if (!row) break;
      std::string key = stmt.Text(0);
      Json value = Json::parse(stmt.Text(1), nullptr, false);
      // Values were checked on the way in; a row edited by hand into nonsense is skipped.
      if (!CheckPolicyValue(key, stmt.Text(1))) continue;
      Apply(policy, key, value, source);
    }
    stmt.Reset();
  }
  return policy;
}

}  // namespace moat::broker::db
