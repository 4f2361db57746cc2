#include "db/audit.h"

namespace moat::broker::db {

Status RecordEvent(const Database& db, const AuditEvent& event, std::int64_t at) {
  if (event.kind.empty()) return Fail(InvalidArgument("audit event without a kind"));
  MOAT_TRY(auto stmt, db.Prepare("INSERT INTO session_events (session_id, at, actor_id, kind, "
                                 "old_value, new_value, detail) VALUES (?, ?, ?, ?, ?, ?, ?)"));
  MOAT_TRY_VOID(stmt.BindAll(event.session_id, at, event.actor.user_id, event.kind, event.old_value,
                             event.new_value, event.detail));
  MOAT_TRY_VOID_CTX(stmt.Run(), "record event '" + event.kind + "'");
  return {};
}

Result<std::vector<AuditRecord>> ListEvents(const Database& db, const AuditFilter& filter) {
  if (filter.limit < 1 || filter.limit > 10000) {
    return Fail(InvalidArgument("audit limit " + std::to_string(filter.limit) +
                                " is out of range: use 1 to 10000"));
  }
  // NULL filters match everything; one statement shape keeps the query plan simple.
  MOAT_TRY(auto stmt,
           db.Prepare("SELECT e.id, e.at, e.actor_id, coalesce(u.name, 'system'), e.kind, "
                      "e.session_id, e.old_value, e.new_value, e.detail "
                      "FROM session_events AS e LEFT JOIN users AS u ON u.id = e.actor_id "
                      "WHERE (?1 IS NULL OR e.session_id = ?1) AND (?2 IS NULL OR e.kind = ?2) "
                      "AND (?3 IS NULL OR e.at >= ?3) AND (?4 IS NULL OR e.id < ?4) "
                      "ORDER BY e.id DESC LIMIT ?5"));
  MOAT_TRY_VOID(
      stmt.BindAll(filter.session_id, filter.kind, filter.since, filter.before_id, filter.limit));
  std::vector<AuditRecord> records;
  while (true) {
    MOAT_TRY(bool row, stmt.Step());
    if (!row) break;
    records.push_back(AuditRecord{stmt.Int(0), stmt.Int(1), stmt.OptionalInt(2), stmt.Text(3),
                                  stmt.Text(4), stmt.OptionalText(5), stmt.OptionalText(6),
                                  stmt.OptionalText(7), stmt.Text(8)});
  }
  return records;
}

}  // namespace moat::broker::db
