// The audit trail in session_events: who did what, when, with the old and new values. Writers call
// RecordEvent inside the same transaction as the change it describes, so the change and its event
// commit together or not at all.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "db/database.h"

namespace moat::broker::db {

// Who acts: a user, or the broker itself ("system": timeouts, agent reports).
struct Actor {
  std::optional<std::int64_t> user_id{};
  static Actor System() { return {}; }
  static Actor User(std::int64_t id) { return {id}; }
};

struct AuditEvent {
  std::optional<std::string> session_id{};
  Actor actor{};
  std::string kind{};  // "session.state", "user.add", "user.role", "policy.set", …
  std::optional<std::string> old_value{};
  std::optional<std::string> new_value{};
  std::string detail = "{}";  // JSON object
};

Status RecordEvent(const Database& db, const AuditEvent& event, std::int64_t at);

struct AuditRecord {
  std::int64_t id = 0;
  std::int64_t at = 0;
  std::optional<std::int64_t> actor_id{};
  std::string actor{};  // user name or "system"
  std::string kind{};
  std::optional<std::string> session_id{};
  std::optional<std::string> old_value{};
  std::optional<std::string> new_value{};
  std::string detail{};
};

struct AuditFilter {
  std::optional<std::string> session_id{};
  std::optional<std::string> kind{};
  std::optional<std::int64_t> since{};      // at >= since
  std::optional<std::int64_t> before_id{};  // paging: events older than this id
  int limit = 100;
};

// Newest first.
Result<std::vector<AuditRecord>> ListEvents(const Database& db, const AuditFilter& filter);

}  // namespace moat::broker::db
