// The built-in user store: local users with scrypt hashes, PAM users without. Every change is
// audited in the same transaction with who did it and the old and new values (never a hash).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/password_hash.h"
#include "db/audit.h"
#include "db/clock.h"
#include "db/database.h"

namespace moat::broker::db {

// admin: everything; operator: view and throttle; auditor: read-only; user: own sessions only.
enum class Role { kAdmin, kOperator, kAuditor, kUser };
std::string_view ToString(Role role);
std::optional<Role> ParseRole(std::string_view text);

struct User {
  std::int64_t id = 0;
  std::string name{};
  std::string display_name{};
  std::string source{};  // "local" or "pam"
  Role role = Role::kUser;
  std::int64_t created_at = 0;
  bool disabled = false;
};

struct NewUser {
  std::string name{};
  std::string display_name{};
  std::optional<std::string> password{};  // required for local users, absent for PAM users
  std::string source = "local";
  Role role = Role::kUser;
};

class UserStore {
 public:
  explicit UserStore(const Database& db, Clock clock = SystemClock(),
                     auth::ScryptParams params = {})
      : db_(db), clock_(std::move(clock)), params_(params) {}

  Result<User> Add(const NewUser& user, const Actor& actor);
  Result<User> SetRole(std::string_view name, Role role, const Actor& actor);
  Status SetPassword(std::string_view name, std::string_view password, const Actor& actor);
  Result<User> SetDisabled(std::string_view name, bool disabled, const Actor& actor);

  Result<User> Get(std::string_view name) const;
  Result<User> GetById(std::int64_t id) const;
  Result<std::vector<User>> List() const;

  // The user when the name and password match a local, enabled user. Every refusal is the same
  // EACCES error, so a caller cannot tell unknown names from wrong passwords.
  Result<User> CheckPassword(std::string_view name, std::string_view password) const;

 private:
  Result<User> QueryOne(Statement& stmt, std::string_view missing) const;

  const Database& db_;
  Clock clock_;
  auth::ScryptParams params_;
};

}  // namespace moat::broker::db
