// One-time enrolment tokens for session hosts. An admin issues one (`moatctl hosts token`); a new
// agent redeems it once, within its lifetime, for a client certificate. Only the token's SHA-256
// is stored; issuing and redeeming are audited.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "db/audit.h"
#include "db/clock.h"
#include "db/database.h"
#include "db/host_store.h"

namespace moat::broker::db {

struct IssuedEnrolment {
  std::string token{};  // the only copy
  std::int64_t expires_at = 0;
};

class EnrolmentStore {
 public:
  explicit EnrolmentStore(const Database& db, Clock clock = SystemClock())
      : db_(db), clock_(std::move(clock)) {}

  Result<IssuedEnrolment> Issue(std::int64_t ttl_seconds, const Actor& actor);
  // Marks the token used and records the host: a new one, or a re-enrolled one under the same
  // name, whose certificate fingerprint is replaced. An unknown, used or expired token is the
  // same EACCES error and changes nothing.
  Result<Host> Redeem(std::string_view token, const NewHost& host);

 private:
  const Database& db_;
  Clock clock_;
};

}  // namespace moat::broker::db
