// Slows password guessing per user name and per client address. Failures are rows in
// login_failures, so the backoff survives a broker restart and holds across broker threads. After
// `free_failures` within the window, each further attempt must wait base * 2^(extra failures)
// seconds after the last failure, up to max_delay. A success clears the user's failures.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "db/clock.h"
#include "db/database.h"

namespace moat::broker::db {

struct ThrottleConfig {
  std::int64_t window_seconds = 15 * 60;
  std::int64_t free_failures_per_user = 5;
  std::int64_t free_failures_per_address = 20;  // a NAT may hide many honest users
  std::int64_t base_delay_seconds = 1;
  std::int64_t max_delay_seconds = 15 * 60;
};

struct ThrottleDecision {
  bool allowed = true;
  std::int64_t retry_after_seconds = 0;
  std::string reason{};  // "user" or "address" when refused
};

class LoginThrottle {
 public:
  explicit LoginThrottle(const Database& db, Clock clock = SystemClock(),
                         ThrottleConfig config = {})
      : db_(db), clock_(std::move(clock)), config_(config) {}

  // Ask before checking a password; a refused attempt is not checked and not recorded.
  Result<ThrottleDecision> Check(std::string_view user, std::string_view address) const;
  Status RecordFailure(std::string_view user, std::string_view address);
  Status RecordSuccess(std::string_view user);
  // Forgets failures older than the window.
  Result<std::int64_t> Prune();

 private:
  Result<std::int64_t> Delay(std::string_view kind, std::string_view subject,
                             std::int64_t free_failures, std::int64_t now) const;

  const Database& db_;
  Clock clock_;
  ThrottleConfig config_;
};

}  // namespace moat::broker::db
