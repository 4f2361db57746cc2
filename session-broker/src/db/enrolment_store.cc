#include "db/enrolment_store.h"

#include <nlohmann/json.hpp>

#include "auth/crypto.h"

namespace moat::broker::db {
namespace {

Error Refused() {
  return Error(std::make_error_code(std::errc::permission_denied),
               "enrolment refused: unknown, used or expired token");
}

}  // namespace

Result<IssuedEnrolment> EnrolmentStore::Issue(std::int64_t ttl_seconds, const Actor& actor) {
  if (ttl_seconds < 60 || ttl_seconds > 7 * 24 * 3600) {
    return Fail(InvalidArgument("enrolment token lifetime must be 60 s to 7 days, not " +
                                std::to_string(ttl_seconds) + " s"));
  }
  MOAT_TRY(std::string secret, auth::RandomBytes(32));
  std::string token = auth::Base64UrlEncode(secret);
  MOAT_TRY(std::string hash, auth::Sha256(token));
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(auto insert, db_.Prepare("INSERT INTO enrolment_tokens (token_hash, created_at, "
                                    "created_by, expires_at) VALUES (?, ?, ?, ?)"));
  MOAT_TRY_VOID(insert.BindBlob(1, hash));
  MOAT_TRY_VOID(insert.Bind(2, now));
  MOAT_TRY_VOID(insert.Bind(3, actor.user_id));
  MOAT_TRY_VOID(insert.Bind(4, now + ttl_seconds));
  MOAT_TRY_VOID(insert.Run());
  nlohmann::json detail{{"expires_at", now + ttl_seconds}};
  MOAT_TRY_VOID(
      RecordEvent(db_, {.actor = actor, .kind = "host.token", .detail = detail.dump()}, now));
  MOAT_TRY_VOID(tx.Commit());
  return IssuedEnrolment{std::move(token), now + ttl_seconds};
}

Result<Host> EnrolmentStore::Redeem(std::string_view token, const NewHost& host) {
  if (token.size() > 128) return Fail(Refused());
  MOAT_TRY(std::string hash, auth::Sha256(token));
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(auto find, db_.Prepare("SELECT 1 FROM enrolment_tokens WHERE token_hash = ? AND "
                                  "used_at IS NULL AND expires_at > ?"));
  MOAT_TRY_VOID(find.BindBlob(1, hash));
  MOAT_TRY_VOID(find.Bind(2, now));
  MOAT_TRY(bool found, find.Step());
  if (!found) return Fail(Refused());
  HostStore hosts(db_, clock_);
  Result<Host> enrolled = hosts.Get(host.name);
  if (enrolled) {
    MOAT_TRY(auto update, db_.Prepare("UPDATE hosts SET cert_fingerprint = ?, address = ?, "
                                      "capacity = ? WHERE id = ?"));
    MOAT_TRY_VOID(update.BindAll(host.cert_fingerprint, host.address, host.capacity, enrolled->id));
    MOAT_TRY_VOID(update.Run());
    nlohmann::json detail{{"fingerprint", host.cert_fingerprint.value_or("")}};
    MOAT_TRY_VOID(RecordEvent(db_,
                              {.kind = "host.reenrol",
                               .old_value = enrolled->cert_fingerprint,
                               .new_value = host.cert_fingerprint,
                               .detail = detail.dump()},
                              now));
  } else {
    MOAT_TRY_VOID(hosts.Add(host, Actor::System()));
  }
  MOAT_TRY(Host result, hosts.Get(host.name));
  MOAT_TRY(auto use, db_.Prepare("UPDATE enrolment_tokens SET used_at = ?, host_id = ? WHERE "
                                 "token_hash = ?"));
  MOAT_TRY_VOID(use.Bind(1, now));
  MOAT_TRY_VOID(use.Bind(2, result.id));
  MOAT_TRY_VOID(use.BindBlob(3, hash));
  MOAT_TRY_VOID(use.Run());
  MOAT_TRY_VOID(tx.Commit());
  return result;
}

}  // namespace moat::broker::db
