#include "db/session_store.h"

#include <nlohmann/json.hpp>

#include "auth/crypto.h"

namespace moat::broker::db {
namespace {

constexpr std::string_view kColumns =
    "id, user_id, host_id, backend, state, limits, created_at, updated_at, last_input_at, "
    "ended_at, failure_reason";

Session ReadSession(const Statement& stmt) {
  Session session;
  session.id = stmt.Text(0);
  session.user_id = stmt.Int(1);
  session.host_id = stmt.OptionalInt(2);
  session.backend = stmt.Text(3);
  session.state = ParseSessionState(stmt.Text(4)).value_or(SessionState::kFailed);
  session.limits = stmt.Text(5);
  session.created_at = stmt.Int(6);
  session.updated_at = stmt.Int(7);
  session.last_input_at = stmt.OptionalInt(8);
  session.ended_at = stmt.OptionalInt(9);
  session.failure_reason = stmt.OptionalText(10);
  return session;
}

Status CheckId(std::string_view id) {
  bool ok = !id.empty() && id.size() <= 64;
  for (char c : id) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.');
  }
  if (ok) return {};
  return Fail(InvalidArgument("session id '" + std::string(id) +
                              "' is not valid: use 1 to 64 letters, digits, '-', '_' or '.'"));
}

Status CheckJsonObject(std::string_view what, std::string_view text) {
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return Fail(InvalidArgument(std::string(what) + " must be a JSON object, not '" +
                                std::string(text.substr(0, 80)) + "'"));
  }
  return {};
}

Result<std::string> NewSessionId(std::string_view requested) {
  if (!requested.empty()) {
    MOAT_TRY_VOID(CheckId(requested));
    return std::string(requested);
  }
  MOAT_TRY(std::string bytes, auth::RandomBytes(12));
  return "s-" + auth::HexEncode(bytes);
}

}  // namespace

Result<Session> SessionStore::Create(const NewSession& request, const Actor& actor) {
  MOAT_TRY(std::string id, NewSessionId(request.id));
  if (request.backend != "sandbox" && request.backend != "vm") {
    return Fail(InvalidArgument("backend '" + request.backend + "' is not 'sandbox' or 'vm'"));
  }
  MOAT_TRY_VOID(CheckJsonObject("session limits", request.limits));
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(auto insert, db_.Prepare("INSERT INTO sessions (id, user_id, host_id, backend, state, "
                                    "limits, created_at, updated_at) "
                                    "VALUES (?, ?, ?, ?, 'starting', ?, ?, ?)"));
  MOAT_TRY_VOID(insert.BindAll(id, request.user_id, request.host_id, request.backend,
                               request.limits, now, now));
  if (auto run = insert.Run(); !run) {
    if (IsConstraintViolation(run.error())) {
      return Fail(Conflict("create session '" + id +
                           "': the id is taken, or the user or host does not exist (" +
                           run.error().message() + ")"));
    }
    return Fail(std::move(run).error().Wrap("create session '" + id + "'"));
  }
  MOAT_TRY_VOID(RecordEvent(db_,
                            {id, actor, "session.create", std::nullopt, "starting",
                             nlohmann::json{{"backend", request.backend},
                                            {"limits", nlohmann::json::parse(request.limits)}}
                                 .dump()},
                            now));
  MOAT_TRY(Session session, Get(id));
  MOAT_TRY_VOID(tx.Commit());
  return session;
}

Result<Session> SessionStore::Transition(std::string_view id, SessionState to, const Actor& actor,
                                         std::string_view detail) {
  MOAT_TRY_VOID(CheckJsonObject("transition detail", detail));
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(Session current, Get(id));
  if (!IsTransitionAllowed(current.state, to)) {
    return Fail(Conflict("session '" + std::string(id) + "' cannot go from '" +
                         std::string(ToString(current.state)) + "' to '" +
                         std::string(ToString(to)) + "'"));
  }
  MOAT_TRY(auto update,
           db_.Prepare("UPDATE sessions SET state = ?2, updated_at = ?3, "
                       "ended_at = CASE WHEN ?2 IN ('ended', 'failed') THEN ?3 ELSE ended_at END, "
                       "failure_reason = CASE WHEN ?2 = 'failed' "
                       "THEN coalesce(json_extract(?4, '$.reason'), 'unknown') "
                       "ELSE failure_reason END "
                       "WHERE id = ?1"));
  MOAT_TRY_VOID(update.BindAll(id, ToString(to), now, detail));
  MOAT_TRY_VOID(update.Run());
  MOAT_TRY_VOID(
      RecordEvent(db_,
                  {std::string(id), actor, "session.state", std::string(ToString(current.state)),
                   std::string(ToString(to)), std::string(detail)},
                  now));
  MOAT_TRY(Session session, Get(id));
  MOAT_TRY_VOID(tx.Commit());
  return session;
}

Result<Session> SessionStore::SetLimits(std::string_view id, std::string_view limits,
                                        const Actor& actor) {
  MOAT_TRY_VOID(CheckJsonObject("session limits", limits));
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(Session current, Get(id));
  if (IsTerminal(current.state)) {
    return Fail(Conflict("session '" + std::string(id) + "' is " +
                         std::string(ToString(current.state)) + "; its limits cannot change"));
  }
  MOAT_TRY(auto update,
           db_.Prepare("UPDATE sessions SET limits = json(?2), updated_at = ?3 WHERE id = ?1"));
  MOAT_TRY_VOID(update.BindAll(id, limits, now));
  MOAT_TRY_VOID(update.Run());
  MOAT_TRY(Session session, Get(id));
  MOAT_TRY_VOID(RecordEvent(
      db_, {std::string(id), actor, "session.limits", current.limits, session.limits, "{}"}, now));
  MOAT_TRY_VOID(tx.Commit());
  return session;
}

Result<Session> SessionStore::Place(std::string_view id, std::int64_t host_id, const Actor& actor) {
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(Session current, Get(id));
  MOAT_TRY(auto update,
           db_.Prepare("UPDATE sessions SET host_id = ?2, updated_at = ?3 WHERE id = ?1"));
  MOAT_TRY_VOID(update.BindAll(id, host_id, now));
  if (auto run = update.Run(); !run) {
    if (IsConstraintViolation(run.error())) {
      return Fail(NotFound("place session '" + std::string(id) + "': no host with id " +
                           std::to_string(host_id)));
    }
    return Fail(std::move(run).error());
  }
  auto old_host = current.host_id ? std::optional(std::to_string(*current.host_id)) : std::nullopt;
  MOAT_TRY_VOID(RecordEvent(
      db_, {std::string(id), actor, "session.place", old_host, std::to_string(host_id), "{}"},
      now));
  MOAT_TRY(Session session, Get(id));
  MOAT_TRY_VOID(tx.Commit());
  return session;
}

Status SessionStore::TouchInput(std::string_view id, std::int64_t at) {
  MOAT_TRY(auto update, db_.Prepare("UPDATE sessions SET last_input_at = max(coalesce("
                                    "last_input_at, 0), ?2) WHERE id = ?1"));
  MOAT_TRY_VOID(update.BindAll(id, at));
  MOAT_TRY_VOID(update.Run());
  if (db_.Changes() == 0) return Fail(NotFound("no session '" + std::string(id) + "'"));
  return {};
}

Result<Session> SessionStore::Get(std::string_view id) const {
  MOAT_TRY(auto stmt,
           db_.Prepare("SELECT " + std::string(kColumns) + " FROM sessions WHERE id = ?"));
  MOAT_TRY_VOID(stmt.BindAll(id));
  MOAT_TRY(bool row, stmt.Step());
  if (!row) return Fail(NotFound("no session '" + std::string(id) + "'"));
  return ReadSession(stmt);
}

Result<std::vector<Session>> SessionStore::List(const SessionFilter& filter) const {
  if (filter.limit < 1 || filter.limit > 10000 || filter.offset < 0) {
    return Fail(InvalidArgument("session list paging limit " + std::to_string(filter.limit) +
                                " offset " + std::to_string(filter.offset) +
                                " is out of range: limit 1 to 10000, offset 0 or more"));
  }
  MOAT_TRY(auto stmt, db_.Prepare("SELECT " + std::string(kColumns) +
                                  " FROM sessions WHERE (?1 IS NULL OR user_id = ?1) "
                                  "AND (?2 IS NULL OR host_id = ?2) AND (?3 IS NULL OR state = ?3) "
                                  "AND (?4 = 0 OR state NOT IN ('ended', 'failed')) "
                                  "ORDER BY created_at DESC, id LIMIT ?5 OFFSET ?6"));
  std::optional<std::string> state;
  if (filter.state) state = std::string(ToString(*filter.state));
  MOAT_TRY_VOID(stmt.BindAll(filter.user_id, filter.host_id, state, filter.live_only, filter.limit,
                             filter.offset));
  std::vector<Session> sessions;
  while (true) {
    MOAT_TRY(bool row, stmt.Step());
    if (!row) break;
    sessions.push_back(ReadSession(stmt));
  }
  return sessions;
}

Result<std::int64_t> SessionStore::CountLive(std::int64_t user_id) const {
  MOAT_TRY(auto stmt, db_.Prepare("SELECT count(*) FROM sessions WHERE user_id = ? "
                                  "AND state NOT IN ('ended', 'failed')"));
  MOAT_TRY_VOID(stmt.BindAll(user_id));
  MOAT_TRY(bool row, stmt.Step());
  (void)row;
  return stmt.Int(0);
}

}  // namespace moat::broker::db
