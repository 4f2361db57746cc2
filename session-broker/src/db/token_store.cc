#include "db/token_store.h"

#include "auth/crypto.h"

namespace moat::broker::db {
namespace {

constexpr std::size_t kTokenBytes = 32;
// last_used_at is written at most this often, so validating a token is not a write each time.
constexpr std::int64_t kLastUsedResolution = 60;
constexpr std::int64_t kMaxTtl = 30 * 24 * 3600;

Error Refused() {
  return Error(std::make_error_code(std::errc::permission_denied),
               "token refused: unknown, expired or revoked; log in again");
}

}  // namespace

Result<IssuedToken> TokenStore::Issue(std::int64_t user_id, std::int64_t ttl_seconds) {
  if (ttl_seconds < 1 || ttl_seconds > kMaxTtl) {
    return Fail(InvalidArgument("token lifetime " + std::to_string(ttl_seconds) +
                                " s is out of range: use 1 to " + std::to_string(kMaxTtl)));
  }
  MOAT_TRY(std::string bytes, auth::RandomBytes(kTokenBytes));
  std::string token = auth::Base64UrlEncode(bytes);
  MOAT_TRY(std::string hash, auth::Sha256(token));
  std::int64_t now = clock_();
  MOAT_TRY(auto insert, db_.Prepare("INSERT INTO auth_tokens (token_hash, user_id, created_at, "
                                    "expires_at) VALUES (?, ?, ?, ?)"));
  MOAT_TRY_VOID(insert.BindBlob(1, hash));
  MOAT_TRY_VOID(insert.Bind(2, user_id));
  MOAT_TRY_VOID(insert.Bind(3, now));
  MOAT_TRY_VOID(insert.Bind(4, now + ttl_seconds));
  if (auto run = insert.Run(); !run) {
    if (IsConstraintViolation(run.error())) {
      return Fail(NotFound("issue token: no user with id " + std::to_string(user_id)));
    }
    return Fail(std::move(run).error().Wrap("issue token"));
  }
  return IssuedToken{std::move(token), now + ttl_seconds};
}

Result<TokenOwner> TokenStore::Validate(std::string_view token) {
  if (token.size() > 128) return Fail(Refused());
  MOAT_TRY(std::string hash, auth::Sha256(token));
  std::int64_t now = clock_();
  MOAT_TRY(auto stmt, db_.Prepare("SELECT t.user_id, t.expires_at, t.last_used_at FROM "
                                  "auth_tokens AS t JOIN users AS u ON u.id = t.user_id "
                                  "WHERE t.token_hash = ? AND t.revoked_at IS NULL "
                                  "AND t.expires_at > ? AND u.disabled = 0"));
  MOAT_TRY_VOID(stmt.BindBlob(1, hash));
  MOAT_TRY_VOID(stmt.Bind(2, now));
  MOAT_TRY(bool row, stmt.Step());
  if (!row) return Fail(Refused());
  std::int64_t user_id = stmt.Int(0);
  std::int64_t expires_at = stmt.Int(1);
  std::optional<std::int64_t> last_used = stmt.OptionalInt(2);
  // Ends the read before writing: a write begun inside a read transaction whose snapshot another
  // connection has moved past fails at once (SQLITE_BUSY_SNAPSHOT) instead of waiting.
  stmt.Reset();
  if (!last_used || now - *last_used >= kLastUsedResolution) {
    // Bookkeeping only: a busy database must not turn a valid token into a refusal.
    auto touch = db_.Prepare("UPDATE auth_tokens SET last_used_at = ? WHERE token_hash = ?");
    if (touch && touch->Bind(1, now) && touch->BindBlob(2, hash)) (void)touch->Run();
  }
  MOAT_TRY(User user, UserStore(db_).GetById(user_id));
  return TokenOwner{std::move(user), expires_at};
}

Status TokenStore::Revoke(std::string_view token) {
  MOAT_TRY(std::string hash, auth::Sha256(token));
  MOAT_TRY(auto update, db_.Prepare("UPDATE auth_tokens SET revoked_at = ? WHERE token_hash = ? "
                                    "AND revoked_at IS NULL"));
  MOAT_TRY_VOID(update.Bind(1, clock_()));
  MOAT_TRY_VOID(update.BindBlob(2, hash));
  return update.Run();
}

Result<std::int64_t> TokenStore::RevokeAll(std::int64_t user_id) {
  MOAT_TRY(auto update, db_.Prepare("UPDATE auth_tokens SET revoked_at = ? WHERE user_id = ? "
                                    "AND revoked_at IS NULL"));
  MOAT_TRY_VOID(update.BindAll(clock_(), user_id));
  MOAT_TRY_VOID(update.Run());
  return db_.Changes();
}

Result<std::int64_t> TokenStore::Purge(std::int64_t grace_seconds) {
  MOAT_TRY(auto purge, db_.Prepare("DELETE FROM auth_tokens WHERE expires_at < ?1 "
                                   "OR revoked_at < ?1"));
  MOAT_TRY_VOID(purge.BindAll(clock_() - grace_seconds));
  MOAT_TRY_VOID(purge.Run());
  return db_.Changes();
}

}  // namespace moat::broker::db
