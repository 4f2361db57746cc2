// The /api/v1 routes. Every handler runs behind the same guard: the bearer token names the
// caller, the route's access level admits the caller's role or answers 401/403, and errors
// become {"error","message"} with a status from their errno (see ErrorResponse).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "auth/login.h"
#include "broker/agent_hub.h"
#include "broker/broker_config.h"
#include "broker/metrics.h"
#include "broker/session_service.h"
#include "db/connection_pool.h"
#include "db/user_store.h"
#include "http/server.h"
#include "moat/common/tls/ca.h"

namespace moat::broker::api {

struct Caller {
  db::User user;
  std::string token;
  bool Is(db::Role role) const { return user.role == role; }
  bool CanReadAll() const { return user.role != db::Role::kUser; }
  // Auditors are read-only: they see everything and change nothing (but their own password
  // and token).
  bool CanChange() const { return user.role != db::Role::kAuditor; }
  bool CanOperate() const {
    return user.role == db::Role::kAdmin || user.role == db::Role::kOperator;
  }
  db::Actor actor() const { return db::Actor::User(user.id); }
};

// Validated tokens for a few seconds, so a busy client does not cost a database lookup per
// request. Logout, and any change to users, clear it.
class TokenCache {
 public:
  std::optional<db::TokenOwner> Find(const std::string& token, std::int64_t now);
  void Put(const std::string& token, const db::TokenOwner& owner, std::int64_t now);
  void Clear();

 private:
  static constexpr std::int64_t kFreshSeconds = 5;
  struct Entry {
    db::TokenOwner owner;
    std::int64_t cached_at;
  };
  std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

struct ApiContext {
  db::ConnectionPool& pool;
  SessionService& sessions;
  AgentHub& agents;
  http::EventHub& hub;
  Metrics& metrics;
  const tls::CertificateAuthority& ca;
  const BrokerConfig& config;
  auth::PamCheck pam;
  TokenCache tokens{};
};

enum class Access {
  kAnyone,   // no token needed (login, enrolment, the CA certificate, metrics)
  kAnyUser,  // any valid token; handlers keep 'user' callers to their own sessions
  kChange,   // any valid token but an auditor's: the route changes something; as kAnyUser else
  kReadAll,  // admin, operator, auditor
  kOperate,  // admin, operator
  kAdmin,
};

using ApiHandler =
    std::function<Result<http::HttpResponse>(const http::HttpRequest&, const Caller&)>;

// 400 invalid_argument / malformed_json, 401, 403, 404, 409 conflict, 429, 502 host_failed,
// 503 unavailable, 504 timeout, 500 internal.
http::HttpResponse ErrorResponse(const Error& error);
// `body` as the answer; text that is not UTF-8 has U+FFFD in place of each bad byte sequence.
http::HttpResponse Json(int status, const wire::Json& body);
// A user as the API shows one (never the password hash).
wire::Json UserJson(const db::User& user);

// The caller of a request, from "Authorization: Bearer T" (or `?token=T` when `query_ok`).
Result<Caller> Authenticate(ApiContext& context, const http::HttpRequest& request,
                            bool query_ok = false);

// The event stream's guard: nullopt admits the upgrade; otherwise its refusal, 401 without a
// valid token, 403 for a role that does not read everything (for HttpServerOptions).
std::optional<http::HttpResponse> AuthorizeEventStream(ApiContext& context,
                                                       const http::HttpRequest& request);

// Adds one route with its guard.
Status Route(http::Router& router, ApiContext& context, std::string method,
             std::string_view pattern, Access access, ApiHandler handler);

Status AddAuthRoutes(http::Router& router, ApiContext& context);
Status AddSessionRoutes(http::Router& router, ApiContext& context);
Status AddHostRoutes(http::Router& router, ApiContext& context);
Status AddUserRoutes(http::Router& router, ApiContext& context);
Status AddOpsRoutes(http::Router& router, ApiContext& context);  // audit, sql, metrics
// The web login page (/, /login, /web/…) and noVNC (/novnc/…): no token, security headers.
Status AddWebRoutes(http::Router& router, ApiContext& context);

inline Status AddAllRoutes(http::Router& router, ApiContext& context) {
  MOAT_TRY_VOID(AddAuthRoutes(router, context));
  MOAT_TRY_VOID(AddSessionRoutes(router, context));
  MOAT_TRY_VOID(AddHostRoutes(router, context));
  MOAT_TRY_VOID(AddUserRoutes(router, context));
  MOAT_TRY_VOID(AddOpsRoutes(router, context));
  return AddWebRoutes(router, context);
}

}  // namespace moat::broker::api
