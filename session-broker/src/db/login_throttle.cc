#include "db/login_throttle.h"

#include <algorithm>

namespace moat::broker::db {

Result<std::int64_t> LoginThrottle::Delay(std::string_view kind, std::string_view subject,
                                          std::int64_t free_failures, std::int64_t now) const {
  MOAT_TRY(auto stmt, db_.Prepare("SELECT count(*), max(at) FROM login_failures "
                                  "WHERE kind = ? AND subject = ? AND at > ?"));
  MOAT_TRY_VOID(stmt.BindAll(kind, subject, now - config_.window_seconds));
  MOAT_TRY(bool row, stmt.Step());
  std::int64_t failures = row ? stmt.Int(0) : 0;
  if (failures < free_failures) return 0;
  std::int64_t extra = std::min<std::int64_t>(failures - free_failures, 30);
  std::int64_t delay =
      std::min(config_.max_delay_seconds, config_.base_delay_seconds * (std::int64_t{1} << extra));
  return std::max<std::int64_t>(0, stmt.Int(1) + delay - now);
}

Result<ThrottleDecision> LoginThrottle::Check(std::string_view user,
                                              std::string_view address) const {
  std::int64_t now = clock_();
  MOAT_TRY(std::int64_t user_wait, Delay("user", user, config_.free_failures_per_user, now));
  MOAT_TRY(std::int64_t address_wait,
           Delay("address", address, config_.free_failures_per_address, now));
  ThrottleDecision decision;
  if (user_wait > 0 || address_wait > 0) {
    decision.allowed = false;
    decision.retry_after_seconds = std::max(user_wait, address_wait);
    decision.reason = user_wait >= address_wait ? "user" : "address";
  }
  return decision;
}

Status LoginThrottle::RecordFailure(std::string_view user, std::string_view address) {
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(auto insert,
           db_.Prepare("INSERT INTO login_failures (kind, subject, at) VALUES (?, ?, ?)"));
  MOAT_TRY_VOID(insert.BindAll("user", user, now));
  MOAT_TRY_VOID(insert.Run());
  MOAT_TRY_VOID(insert.BindAll("address", address, now));
  MOAT_TRY_VOID(insert.Run());
  return tx.Commit();
}

Status LoginThrottle::RecordSuccess(std::string_view user) {
  MOAT_TRY(auto clear,
           db_.Prepare("DELETE FROM login_failures WHERE kind = 'user' AND subject = ?"));
  MOAT_TRY_VOID(clear.BindAll(user));
  return clear.Run();
}

Result<std::int64_t> LoginThrottle::Prune() {
  MOAT_TRY(auto prune, db_.Prepare("DELETE FROM login_failures WHERE at <= ?"));
  MOAT_TRY_VOID(prune.BindAll(clock_() - config_.window_seconds));
  MOAT_TRY_VOID(prune.Run());
  return db_.Changes();
}

}  // namespace moat::broker::db
