// /api/v1/users and /api/v1/policies (admin; auditors and operators may read).
#include "api/api.h"
#include "api/request_body.h"
#include "broker/system_groups.h"
#include "db/policy_store.h"
#include "db/token_store.h"

namespace moat::broker::api {
namespace {

Result<db::Role> ReadRole(const std::string& text) {
  auto role = db::ParseRole(text);
  if (!role) {
    return Fail(InvalidArgument("unknown role '" + text + "' (admin, operator, auditor or user)"));
  }
  return *role;
}

Status CheckUserName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 32 &&
            (std::islower(static_cast<unsigned char>(name[0])) || name[0] == '_');
  for (char c : name) {
    ok = ok && (std::islower(static_cast<unsigned char>(c)) ||
                std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  }
  if (!ok) {
    return Fail(InvalidArgument("user name '" + name +
                                "' must be 1 to 32 of a-z 0-9 - _ . starting with a letter or _"));
  }
  return {};
}

Status CheckPassword(const std::string& password) {
  if (password.size() < 8) return Fail(InvalidArgument("a password needs at least 8 characters"));
  return {};
}

Result<db::PolicyScope> ReadScope(const std::string& text) {
  auto scope = db::ParsePolicyScope(text);
  if (!scope) return Fail(InvalidArgument("unknown scope '" + text + "' (global, group, user)"));
  return *scope;
}

}  // namespace

wire::Json UserJson(const db::User& user) {
  return wire::Json{{"id", user.id},
                    {"name", user.name},
                    {"display_name", user.display_name},
                    {"source", user.source},
                    {"role", db::ToString(user.role)},
                    {"disabled", user.disabled},
                    {"created_at", user.created_at}};
}

Status AddUserRoutes(http::Router& router, ApiContext& ctx) {
  MOAT_TRY_VOID(
      Route(router, ctx, "GET", "/api/v1/users", Access::kReadAll,
            [&ctx](const http::HttpRequest&, const Caller&) -> Result<http::HttpResponse> {
              auto db = ctx.pool.Acquire();
              MOAT_TRY(auto users, db::UserStore(*db).List());
              wire::Json list = wire::Json::array();
              for (const auto& user : users) list.push_back(UserJson(user));
              return Json(200, {{"users", std::move(list)}});
            }));
  MOAT_TRY_VOID(Route(
      router, ctx, "GET", "/api/v1/users/{name}", Access::kAnyUser,
      [&ctx](const http::HttpRequest& request, const Caller& caller) -> Result<http::HttpResponse> {
        std::string name(request.PathParam("name"));
        if (!caller.CanReadAll() && name != caller.user.name) {
          return Fail(db::Forbidden("users may only look themselves up"));
        }
        auto db = ctx.pool.Acquire();
        MOAT_TRY(db::User user, db::UserStore(*db).Get(name));
        return Json(200, UserJson(user));
      }));
  MOAT_TRY_VOID(Route(
      router, ctx, "POST", "/api/v1/users", Access::kAdmin,
      [&ctx](const http::HttpRequest& request, const Caller& caller) -> Result<http::HttpResponse> {
        MOAT_TRY(auto body, RequestBody::Parse(
                                request, {"name", "password", "role", "source", "display_name"}));
        MOAT_TRY(std::string name, body.RequiredString("name", 64));
        MOAT_TRY_VOID(CheckUserName(name));
        MOAT_TRY(auto password, body.String("password", 1024));
        MOAT_TRY(auto role_text, body.String("role", 16));
        MOAT_TRY(auto source, body.String("source", 8));
        MOAT_TRY(auto display, body.String("display_name", 256));
        db::NewUser user{.name = name,
                         .display_name = display.value_or(""),
                         .password = password,
                         .source = source.value_or(password ? "local" : "pam")};
        if (user.source != "local" && user.source != "pam") {
          return Fail(InvalidArgument("'source' must be 'local' or 'pam'"));
        }
        if (user.source == "local") {
          if (!password) return Fail(InvalidArgument("a local user needs a 'password'"));
          MOAT_TRY_VOID(CheckPassword(*password));
        } else if (password) {
          return Fail(InvalidArgument("a PAM user's password lives with PAM; give no 'password'"));
        }
        if (role_text) {
          MOAT_TRY(user.role, ReadRole(*role_text));
        }
        auto db = ctx.pool.Acquire();
        MOAT_TRY(db::User added, db::UserStore(*db).Add(user, caller.actor()));
        return Json(201, UserJson(added));
      }));
  MOAT_TRY_VOID(Route(
      router, ctx, "POST", "/api/v1/users/{name}/password", Access::kAnyUser,
      [&ctx](const http::HttpRequest& request, const Caller& caller) -> Result<http::HttpResponse> {
        MOAT_TRY(auto body, RequestBody::Parse(request, {"password"}));
        MOAT_TRY(std::string password, body.RequiredString("password", 1024));
        std::string name(request.PathParam("name"));
        if (name != caller.user.name && !caller.Is(db::Role::kAdmin)) {
          return Fail(db::Forbidden("changing another user's password needs the role admin"));
        }
        MOAT_TRY_VOID(CheckPassword(password));
        auto db = ctx.pool.Acquire();
        db::UserStore users(*db);
        MOAT_TRY(db::User user, users.Get(name));
        if (user.source != "local") {
          return Fail(db::Conflict("user '" + name +
                                   "' authenticates through PAM; change the "
                                   "password there"));
        }
        MOAT_TRY_VOID(users.SetPassword(name, password, caller.actor()));
        // Other logins of that user end; the caller's own token stays valid.
        if (name != caller.user.name) {
          MOAT_TRY_VOID(db::TokenStore(*db).RevokeAll(user.id));
        }
        ctx.tokens.Clear();
        return http::HttpResponse{204, {}, {}};
      }));
  MOAT_TRY_VOID(Route(
      router, ctx, "POST", "/api/v1/users/{name}/role", Access::kAdmin,
      [&ctx](const http::HttpRequest& request, const Caller& caller) -> Result<http::HttpResponse> {
        MOAT_TRY(auto body, RequestBody::Parse(request, {"role"}));
        MOAT_TRY(std::string text, body.RequiredString("role", 16));
        MOAT_TRY(db::Role role, ReadRole(text));
        std::string name(request.PathParam("name"));
        if (name == caller.user.name && role != db::Role::kAdmin) {
          return Fail(db::Conflict("admins cannot demote themselves (another admin can)"));
        }
        auto db = ctx.pool.Acquire();
        MOAT_TRY(db::User user, db::UserStore(*db).SetRole(name, role, caller.actor()));
        ctx.tokens.Clear();
        return Json(200, UserJson(user));
      }));
  for (bool disable : {true, false}) {
    MOAT_TRY_VOID(Route(
        router, ctx, "POST",
        disable ? "/api/v1/users/{name}/disable" : "/api/v1/users/{name}/enable", Access::kAdmin,
        [&ctx, disable](const http::HttpRequest& request,
                        const Caller& caller) -> Result<http::HttpResponse> {
          MOAT_TRY(auto body, RequestBody::Parse(request, {}, /*empty_ok=*/true));
          (void)body;
          std::string name(request.PathParam("name"));
          if (disable && name == caller.user.name) {
            return Fail(db::Conflict("admins cannot disable themselves"));
          }
          auto db = ctx.pool.Acquire();
          MOAT_TRY(db::User user, db::UserStore(*db).SetDisabled(name, disable, caller.actor()));
          ctx.tokens.Clear();
          return Json(200, UserJson(user));
        }));
  }

  MOAT_TRY_VOID(
      Route(router, ctx, "GET", "/api/v1/policies", Access::kReadAll,
            [&ctx](const http::HttpRequest& request, const Caller&) -> Result<http::HttpResponse> {
              auto db = ctx.pool.Acquire();
              db::PolicyStore policies(*db);
              MOAT_TRY(auto entries, policies.List());
              wire::Json list = wire::Json::array();
              for (const auto& e : entries) {
                list.push_back({{"scope", db::ToString(e.scope)},
                                {"subject", e.subject},
                                {"key", e.key},
                                {"value", wire::Json::parse(e.value, nullptr, false)},
                                {"updated_at", e.updated_at}});
              }
              wire::Json out{{"policies", std::move(list)}};
              if (auto user = request.QueryParam("effective_for")) {
                MOAT_TRY(auto effective, EffectivePolicyOf(*db, *user));
                out["effective"] = {{"user", *user},
                                    {"sessions_per_user", effective.sessions_per_user},
                                    {"idle_timeout_s", effective.idle_timeout_s},
                                    {"disconnected_timeout_s", effective.disconnected_timeout_s},
                                    {"max_lifetime_s", effective.max_lifetime_s},
                                    {"default_limits", wire::Json::parse(effective.default_limits)},
                                    {"backend", effective.backend},
                                    {"sources", effective.sources}};
              }
              return Json(200, out);
            }));
  auto change_policy = [&ctx](bool set) {
    return [&ctx, set](const http::HttpRequest& request,
                       const Caller& caller) -> Result<http::HttpResponse> {
      MOAT_TRY(auto body, set ? RequestBody::Parse(request, {"scope", "subject", "key", "value"})
                              : RequestBody::Parse(request, {"scope", "subject", "key"}));
      MOAT_TRY(std::string scope_text, body.RequiredString("scope", 16));
      MOAT_TRY(db::PolicyScope scope, ReadScope(scope_text));
      MOAT_TRY(auto subject, body.String("subject", 64));
      MOAT_TRY(std::string key, body.RequiredString("key", 64));
      auto db = ctx.pool.Acquire();
      db::PolicyStore policies(*db);
      if (set) {
        const wire::Json* value = body.Get("value");
        if (value == nullptr) return Fail(InvalidArgument("'value' is required"));
        MOAT_TRY_VOID(
            policies.Set(scope, subject.value_or(""), key, value->dump(), caller.actor()));
      } else {
        MOAT_TRY_VOID(policies.Remove(scope, subject.value_or(""), key, caller.actor()));
      }
      return http::HttpResponse{204, {}, {}};
    };
  };
  MOAT_TRY_VOID(Route(router, ctx, "PUT", "/api/v1/policies", Access::kAdmin, change_policy(true)));
  MOAT_TRY_VOID(
      Route(router, ctx, "DELETE", "/api/v1/policies", Access::kAdmin, change_policy(false)));
  return {};
}

}  // namespace moat::broker::api
