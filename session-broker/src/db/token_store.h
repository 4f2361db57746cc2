// Bearer tokens: 32 random bytes handed out once as base64url, stored only as their SHA-256, so a
// copy of the database gives no usable token. Validate checks expiry and revocation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "db/clock.h"
#include "db/database.h"
#include "db/user_store.h"

namespace moat::broker::db {

struct IssuedToken {
  std::string token{};  // the only copy; the database keeps its hash
  std::int64_t expires_at = 0;
};

struct TokenOwner {
  User user{};
  std::int64_t expires_at = 0;
};

class TokenStore {
 public:
  explicit TokenStore(const Database& db, Clock clock = SystemClock())
      : db_(db), clock_(std::move(clock)) {}

  Result<IssuedToken> Issue(std::int64_t user_id, std::int64_t ttl_seconds);
  // The token's user, if the token is known, unexpired, unrevoked and its user enabled. Any
  // refusal is the same EACCES error.
  Result<TokenOwner> Validate(std::string_view token);
  // Logout. Revoking an unknown or already revoked token is not an error.
  Status Revoke(std::string_view token);
  // All of a user's tokens, e.g. when an admin disables the user or resets the password.
  Result<std::int64_t> RevokeAll(std::int64_t user_id);
  // Deletes tokens that expired or were revoked more than `grace_seconds` ago.
  Result<std::int64_t> Purge(std::int64_t grace_seconds);

 private:
  const Database& db_;
  Clock clock_;
};

}  // namespace moat::broker::db
