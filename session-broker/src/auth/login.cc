#include "auth/login.h"

#include <nlohmann/json.hpp>

#include "db/audit.h"

namespace moat::broker::auth {
namespace {

Error Refused() {
  return Error(std::make_error_code(std::errc::permission_denied),
               "login refused: unknown user, wrong password or disabled account");
}

bool IsRefusal(const Error& error) { return error.code() == std::errc::permission_denied; }

}  // namespace

Result<LoginResult> Login::Run(const LoginRequest& request) {
  MOAT_TRY(db::User user, Verify(request));
  // The token and its audit row commit together.
  MOAT_TRY(auto tx, db::Transaction::Begin(db_));
  MOAT_TRY(db::IssuedToken token, tokens_.Issue(user.id, request.ttl_seconds));
  nlohmann::json detail{{"address", request.address}, {"expires_at", token.expires_at}};
  MOAT_TRY_VOID(db::RecordEvent(db_,
                                {.actor = db::Actor::User(user.id),
                                 .kind = "auth.login",
                                 .new_value = user.name,
                                 .detail = detail.dump()},
                                clock_()));
  MOAT_TRY_VOID(tx.Commit());
  return LoginResult{std::move(user), std::move(token)};
}

Result<db::User> Login::Verify(const LoginRequest& request) {
  MOAT_TRY(db::ThrottleDecision decision, throttle_.Check(request.user, request.address));
  if (!decision.allowed) {
    return Fail(Error(std::make_error_code(std::errc::resource_unavailable_try_again),
                      "too many failed logins for this " + decision.reason + "; retry in " +
                          std::to_string(decision.retry_after_seconds) + " s"));
  }
  auto user = CheckCredentials(request);
  if (!user) {
    if (!IsRefusal(user.error())) return Fail(std::move(user).error());
    MOAT_TRY_VOID(RecordRefusal(request));
    return Fail(Refused());
  }
  MOAT_TRY_VOID(throttle_.RecordSuccess(request.user));
  return user;
}

Result<db::User> Login::CheckCredentials(const LoginRequest& request) {
  auto user = users_.Get(request.user);
  if (user && user->source == "pam") {
    if (!pam_ || user->disabled) return Fail(Refused());
    MOAT_TRY(bool accepted, pam_(request.user, request.password));
    if (!accepted) return Fail(Refused());
    return user;
  }
  // A system user PAM accepts, logging in for the first time, becomes a PAM user with the
  // role 'user' (audited as the system's doing); admins raise roles later.
  if (!user && pam_ && user.error().code() == std::errc::no_such_file_or_directory) {
    MOAT_TRY(bool accepted, pam_(request.user, request.password));
    if (!accepted) return Fail(Refused());
    return users_.Add({.name = request.user,
                       .display_name = "",
                       .password = std::nullopt,
                       .source = "pam",
                       .role = db::Role::kUser},
                      db::Actor::System());
  }
  // Unknown names go through the same scrypt work as known ones (see UserStore::CheckPassword).
  return users_.CheckPassword(request.user, request.password);
}

Status Login::RecordRefusal(const LoginRequest& request) {
  MOAT_TRY_VOID(throttle_.RecordFailure(request.user, request.address));
  nlohmann::json detail{{"user", request.user}, {"address", request.address}};
  return db::RecordEvent(db_, {.kind = "auth.login_failed", .detail = detail.dump()}, clock_());
}

Status Login::Logout(std::string_view token) {
  MOAT_TRY(db::TokenOwner owner, tokens_.Validate(token));
  MOAT_TRY(auto tx, db::Transaction::Begin(db_));
  MOAT_TRY_VOID(tokens_.Revoke(token));
  MOAT_TRY_VOID(db::RecordEvent(db_,
                                {.actor = db::Actor::User(owner.user.id),
                                 .kind = "auth.logout",
                                 .old_value = owner.user.name},
                                clock_()));
  return tx.Commit();
}

}  // namespace moat::broker::auth
