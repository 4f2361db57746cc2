// Password login as one sequence of named steps: throttle check, password check (local scrypt
// hash or PAM), failure bookkeeping or token issue, audit event. The HTTP layer maps the errors:
// EAGAIN (throttled) to 429 with Retry-After, EACCES (refused) to 401.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "auth/password_hash.h"
#include "db/database.h"
#include "db/login_throttle.h"
#include "db/token_store.h"
#include "db/user_store.h"

namespace moat::broker::auth {

struct LoginRequest {
  std::string user{};
  std::string password{};
  std::string address{};  // the client's address, for per-address throttling
  std::int64_t ttl_seconds = 12 * 3600;
};

struct LoginResult {
  db::User user{};
  db::IssuedToken token{};
};

// Asks PAM about a user whose source is 'pam': true when PAM accepts the password.
using PamCheck = std::function<Result<bool>(std::string_view user, std::string_view password)>;

class Login {
 public:
  Login(const db::Database& db, db::Clock clock, PamCheck pam = nullptr,
        db::ThrottleConfig throttle = {}, ScryptParams params = {})
      : db_(db),
        clock_(clock),
        pam_(std::move(pam)),
        users_(db, clock, params),
        tokens_(db, clock),
        throttle_(db, clock, throttle) {}

  Result<LoginResult> Run(const LoginRequest& request);
  // The throttle and password checks of Run, with their bookkeeping, but no token: for the
  // display gateway's VeNCrypt Plain logins, which need no API token.
  Result<db::User> Verify(const LoginRequest& request);
  // Logout: revokes the token and records who logged out.
  Status Logout(std::string_view token);

 private:
  Result<db::User> CheckCredentials(const LoginRequest& request);
  Status RecordRefusal(const LoginRequest& request);

  const db::Database& db_;
  db::Clock clock_;
  PamCheck pam_;
  db::UserStore users_;
  db::TokenStore tokens_;
  db::LoginThrottle throttle_;
};

}  // namespace moat::broker::auth
