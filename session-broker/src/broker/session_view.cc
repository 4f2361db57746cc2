#include "broker/session_view.h"

namespace moat::broker {
namespace {

constexpr std::string_view kSelect =
    "SELECT id, user_name, user_id, host_name, host_id, backend, state, limits, created_at, "
    "updated_at, last_input_at, ended_at, failure_reason FROM v_sessions";

SessionView Read(const db::Statement& row) {
  return SessionView{row.Text(0),         row.Text(1), row.Int(2),          row.OptionalText(3),
                     row.OptionalInt(4),  row.Text(5), row.Text(6),         row.Text(7),
                     row.Int(8),          row.Int(9),  row.OptionalInt(10), row.OptionalInt(11),
                     row.OptionalText(12)};
}

}  // namespace

Result<std::vector<SessionView>> ListSessionViews(const db::Database& db,
                                                  const SessionQuery& query) {
  // Each filter is "?N IS NULL OR column = ?N": one statement text for every combination.
  std::string sql = std::string(kSelect) +
                    " WHERE (?1 IS NULL OR user_name = ?1) AND (?2 IS NULL OR host_name = ?2) "
                    "AND (?3 IS NULL OR state = ?3) AND (?4 = 0 OR live = 1) "
                    "ORDER BY created_at DESC, id LIMIT ?5 OFFSET ?6";
  MOAT_TRY(db::Statement * stmt, db.PrepareCached(sql));
  MOAT_TRY_VOID(stmt->BindAll(query.user, query.host, query.state, query.live_only, query.limit,
                              query.offset));
  std::vector<SessionView> sessions;
  for (;;) {
    MOAT_TRY(bool row, stmt->Step());
    if (!row) break;
    sessions.push_back(Read(*stmt));
  }
  stmt->Reset();
  return sessions;
}

Result<SessionView> GetSessionView(const db::Database& db, std::string_view id) {
  MOAT_TRY(auto stmt, db.Prepare(std::string(kSelect) + " WHERE id = ?1"));
  MOAT_TRY_VOID(stmt.BindAll(id));
  MOAT_TRY(bool row, stmt.Step());
  if (!row) return Fail(db::NotFound("no session '" + std::string(id) + "'"));
  return Read(stmt);
}

// One serialiser (AppendJson) for both forms, so they cannot drift apart.
wire::Json ToJson(const SessionView& session) {
  std::string text;
  AppendJson(text, session, {});
  return wire::Json::parse(text, nullptr, /*allow_exceptions=*/false);
}

void AppendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      out += "\\u00";
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    } else {
      out += c;
    }
  }
  out += '"';
}

namespace {

void AppendOptional(std::string& out, const std::optional<std::int64_t>& value) {
  out += value ? std::to_string(*value) : "null";
}

void AppendOptional(std::string& out, const std::optional<std::string>& value) {
  if (value) {
    AppendJsonString(out, *value);
  } else {
    out += "null";
  }
}

}  // namespace

// Keys in the order nlohmann's std::map gives ToJson(), so both forms read the same.
void AppendJson(std::string& out, const SessionView& s, std::string_view usage_json) {
  out += "{\"backend\":";
  AppendJsonString(out, s.backend);
  out += ",\"created_at\":" + std::to_string(s.created_at) + ",\"ended_at\":";
  AppendOptional(out, s.ended_at);
  out += ",\"failure_reason\":";
  AppendOptional(out, s.failure_reason);
  out += ",\"host\":";
  AppendOptional(out, s.host);
  out += ",\"id\":";
  AppendJsonString(out, s.id);
  out += ",\"last_input_at\":";
  AppendOptional(out, s.last_input_at);
  // Stored limits are JSON objects already (checked by the column's json_valid and on write).
  out += ",\"limits\":";
  out += s.limits.empty() ? "{}" : s.limits;
  out += ",\"state\":";
  AppendJsonString(out, s.state);
  out += ",\"updated_at\":" + std::to_string(s.updated_at) + ",\"usage\":";
  out += usage_json.empty() ? "null" : usage_json;
  out += ",\"user\":";
  AppendJsonString(out, s.user);
  out += '}';
}

}  // namespace moat::broker
