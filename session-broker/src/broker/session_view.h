// Sessions as the API and the event stream show them: the row joined with its user's and
// host's names (from v_sessions), in one query per page.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "db/database.h"
#include "moat/common/wire/envelope.h"

namespace moat::broker {

struct SessionView {
  std::string id;
  std::string user;
  std::int64_t user_id = 0;
  std::optional<std::string> host;
  std::optional<std::int64_t> host_id;
  std::string backend;
  std::string state;
  std::string limits;  // JSON object
  std::int64_t created_at = 0, updated_at = 0;
  std::optional<std::int64_t> last_input_at, ended_at;
  std::optional<std::string> failure_reason;
};

struct SessionQuery {
  std::optional<std::string> user{}, host{}, state{};
  bool live_only = false;
  int limit = 100;
  int offset = 0;
};

Result<std::vector<SessionView>> ListSessionViews(const db::Database& db,
                                                  const SessionQuery& query);
// ENOENT when there is no such session.
Result<SessionView> GetSessionView(const db::Database& db, std::string_view id);

// The session as the API shows it, with "usage" (`usage_json`, already serialised, or null),
// written straight into `out`: the listing's hot path builds no JSON document.
void AppendJson(std::string& out, const SessionView& session, std::string_view usage_json);
// `text` as a JSON string literal.
void AppendJsonString(std::string& out, std::string_view text);
// The same object as a JSON document, "usage" null (for events and single responses).
wire::Json ToJson(const SessionView& session);

}  // namespace moat::broker
