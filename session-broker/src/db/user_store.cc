#include "db/user_store.h"

#include <nlohmann/json.hpp>
#include <utility>

namespace moat::broker::db {
namespace {

constexpr std::pair<Role, std::string_view> kRoles[] = {
    {Role::kAdmin, "admin"},
    {Role::kOperator, "operator"},
    {Role::kAuditor, "auditor"},
    {Role::kUser, "user"},
};

constexpr std::string_view kColumns = "id, name, display_name, source, role, created_at, disabled";
// Stands in for a hash in the audit trail: the trail says a password changed, never to what.
constexpr std::string_view kHashPlaceholder = "(scrypt hash)";

User ReadUser(const Statement& stmt) {
  return User{stmt.Int(0),
              stmt.Text(1),
              stmt.Text(2),
              stmt.Text(3),
              ParseRole(stmt.Text(4)).value_or(Role::kUser),
              stmt.Int(5),
              stmt.Int(6) != 0};
}

Status CheckName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64 && name.front() != '-';
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.' || c == '@');
  }
  if (ok) return {};
  return Fail(InvalidArgument("user name '" + std::string(name.substr(0, 80)) +
                              "' is not valid: use 1 to 64 letters, digits, '.', '_', '@' or '-', "
                              "not starting with '-'"));
}

Status CheckPasswordText(std::string_view password) {
  if (password.size() < 8 || password.size() > 1024) {
    return Fail(InvalidArgument("a password must have 8 to 1024 characters"));
  }
  return {};
}

Error AccessDenied() {
  return Error(std::make_error_code(std::errc::permission_denied),
               "login refused: unknown user, wrong password or disabled account");
}

}  // namespace

std::string_view ToString(Role role) {
  for (const auto& [value, name] : kRoles) {
    if (value == role) return name;
  }
  return "user";
}

std::optional<Role> ParseRole(std::string_view text) {
  for (const auto& [value, name] : kRoles) {
    if (name == text) return value;
  }
  return std::nullopt;
}

Result<User> UserStore::Add(const NewUser& user, const Actor& actor) {
  MOAT_TRY_VOID(CheckName(user.name));
  std::optional<std::string> hash;
  if (user.source == "local") {
    if (!user.password)
      return Fail(InvalidArgument("local user '" + user.name + "' needs a password"));
    MOAT_TRY_VOID(CheckPasswordText(*user.password));
    MOAT_TRY(hash, auth::HashPassword(*user.password, params_));
  } else if (user.source == "pam") {
    if (user.password) {
      return Fail(InvalidArgument("PAM user '" + user.name + "' cannot have a local password"));
    }
  } else {
    return Fail(InvalidArgument("user source '" + user.source + "' is not 'local' or 'pam'"));
  }
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(auto insert, db_.Prepare("INSERT INTO users (name, display_name, password_hash, source, "
                                    "role, created_at) VALUES (?, ?, ?, ?, ?, ?)"));
  MOAT_TRY_VOID(
      insert.BindAll(user.name, user.display_name, hash, user.source, ToString(user.role), now));
  if (auto run = insert.Run(); !run) {
    if (IsConstraintViolation(run.error())) {
      return Fail(Conflict("user '" + user.name + "' already exists"));
    }
    return Fail(std::move(run).error().Wrap("add user '" + user.name + "'"));
  }
  nlohmann::json added{{"name", user.name},
                       {"display_name", user.display_name},
                       {"source", user.source},
                       {"role", ToString(user.role)}};
  MOAT_TRY_VOID(
      RecordEvent(db_, {std::nullopt, actor, "user.add", std::nullopt, added.dump(), "{}"}, now));
  MOAT_TRY(User created, Get(user.name));
  MOAT_TRY_VOID(tx.Commit());
  return created;
}

Result<User> UserStore::SetRole(std::string_view name, Role role, const Actor& actor) {
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(User current, Get(name));
  MOAT_TRY(auto update, db_.Prepare("UPDATE users SET role = ? WHERE id = ?"));
  MOAT_TRY_VOID(update.BindAll(ToString(role), current.id));
  MOAT_TRY_VOID(update.Run());
  nlohmann::json detail{{"user", current.name}};
  MOAT_TRY_VOID(RecordEvent(db_,
                            {std::nullopt, actor, "user.role", std::string(ToString(current.role)),
                             std::string(ToString(role)), detail.dump()},
                            now));
  MOAT_TRY(User updated, Get(name));
  MOAT_TRY_VOID(tx.Commit());
  return updated;
}

Status UserStore::SetPassword(std::string_view name, std::string_view password,
                              const Actor& actor) {
  MOAT_TRY_VOID(CheckPasswordText(password));
  // Hash before taking the write lock: scrypt takes tens of milliseconds.
  MOAT_TRY(std::string hash, auth::HashPassword(password, params_));
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(User current, Get(name));
  if (current.source != "local") {
    return Fail(InvalidArgument("user '" + current.name +
                                "' logs in through PAM; change the password there"));
  }
  MOAT_TRY(auto update, db_.Prepare("UPDATE users SET password_hash = ? WHERE id = ?"));
  MOAT_TRY_VOID(update.BindAll(hash, current.id));
  MOAT_TRY_VOID(update.Run());
  nlohmann::json detail{{"user", current.name}};
  MOAT_TRY_VOID(RecordEvent(db_,
                            {std::nullopt, actor, "user.password", std::string(kHashPlaceholder),
                             std::string(kHashPlaceholder), detail.dump()},
                            now));
  return tx.Commit();
}

Result<User> UserStore::SetDisabled(std::string_view name, bool disabled, const Actor& actor) {
  std::int64_t now = clock_();
  MOAT_TRY(auto tx, Transaction::Begin(db_));
  MOAT_TRY(User current, Get(name));
  MOAT_TRY(auto update, db_.Prepare("UPDATE users SET disabled = ? WHERE id = ?"));
  MOAT_TRY_VOID(update.BindAll(disabled, current.id));
  MOAT_TRY_VOID(update.Run());
  nlohmann::json detail{{"user", current.name}};
  MOAT_TRY_VOID(
      RecordEvent(db_,
                  {std::nullopt, actor, "user.disabled", current.disabled ? "true" : "false",
                   disabled ? "true" : "false", detail.dump()},
                  now));
  MOAT_TRY(User updated, Get(name));
  MOAT_TRY_VOID(tx.Commit());
  return updated;
}

Result<User> UserStore::QueryOne(Statement& stmt, std::string_view missing) const {
  MOAT_TRY(bool row, stmt.Step());
  if (!row) return Fail(NotFound(std::string(missing)));
  return ReadUser(stmt);
}

Result<User> UserStore::Get(std::string_view name) const {
  MOAT_TRY(auto stmt,
           db_.Prepare("SELECT " + std::string(kColumns) + " FROM users WHERE name = ?"));
  MOAT_TRY_VOID(stmt.BindAll(name));
  return QueryOne(stmt, "no user '" + std::string(name) + "'");
}

Result<User> UserStore::GetById(std::int64_t id) const {
  MOAT_TRY(auto stmt, db_.Prepare("SELECT " + std::string(kColumns) + " FROM users WHERE id = ?"));
  MOAT_TRY_VOID(stmt.BindAll(id));
  return QueryOne(stmt, "no user with id " + std::to_string(id));
}

Result<std::vector<User>> UserStore::List() const {
  MOAT_TRY(auto stmt, db_.Prepare("SELECT " + std::string(kColumns) + " FROM users ORDER BY name"));
  std::vector<User> users;
  while (true) {
    MOAT_TRY(bool row, stmt.Step());
    if (!row) break;
    users.push_back(ReadUser(stmt));
  }
  return users;
}

Result<User> UserStore::CheckPassword(std::string_view name, std::string_view password) const {
  MOAT_TRY(auto stmt, db_.Prepare("SELECT " + std::string(kColumns) +
                                  ", password_hash FROM users WHERE name = ?"));
  MOAT_TRY_VOID(stmt.BindAll(name));
  MOAT_TRY(bool row, stmt.Step());
  if (!row || stmt.IsNull(7)) {
    // Spend the same time as a real check, so response times do not reveal which names exist.
    MOAT_TRY(std::string ignored, auth::HashPassword(password, params_));
    (void)ignored;
    return Fail(AccessDenied());
  }
  User user = ReadUser(stmt);
  MOAT_TRY(bool match, auth::VerifyPassword(password, stmt.Text(7)));
  if (!match || user.disabled) return Fail(AccessDenied());
  return user;
}

}  // namespace moat::broker::db
