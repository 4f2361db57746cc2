#include <chrono>

#include "api/api.h"
#include "db/token_store.h"

namespace moat::broker::api {
namespace {

Error Unauthorized(std::string message) {
  return Error(std::make_error_code(std::errc::permission_denied), std::move(message));
}

bool Admits(Access access, const Caller& caller) {
  switch (access) {
    case Access::kAnyone:
    case Access::kAnyUser:
      return true;
    case Access::kChange:
      return caller.CanChange();
    case Access::kReadAll:
      return caller.CanReadAll();
    case Access::kOperate:
      return caller.CanOperate();
    case Access::kAdmin:
      return caller.Is(db::Role::kAdmin);
  }
  return false;
}

std::string_view AccessName(Access access) {
  switch (access) {
    case Access::kChange:
      return "admin, operator or user (auditors are read-only)";
    case Access::kReadAll:
      return "admin, operator or auditor";
    case Access::kOperate:
      return "admin or operator";
    case Access::kAdmin:
      return "admin";
    default:
      return "any";
  }
}

Error RoleRefusal(Access access, const Caller& caller) {
  return db::Forbidden("this needs the role " + std::string(AccessName(access)) + "; you are " +
                       std::string(db::ToString(caller.user.role)));
}

}  // namespace

std::optional<db::TokenOwner> TokenCache::Find(const std::string& token, std::int64_t now) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(token);
  if (it == entries_.end()) return std::nullopt;
  if (now - it->second.cached_at >= kFreshSeconds || now >= it->second.owner.expires_at) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.owner;
}

void TokenCache::Put(const std::string& token, const db::TokenOwner& owner, std::int64_t now) {
  std::lock_guard lock(mutex_);
  if (entries_.size() > 10000) entries_.clear();  // bounded; a refill costs one lookup each
  entries_[token] = Entry{owner, now};
}

void TokenCache::Clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
}

http::HttpResponse Json(int status, const wire::Json& body) {
  // Text read back from the database or an agent (a SQL cell, a command line) may hold bytes
  // that are not UTF-8: each becomes U+FFFD instead of an exception.
  return http::JsonResponse(status,
                            body.dump(-1, ' ', false, wire::Json::error_handler_t::replace));
}

http::HttpResponse ErrorResponse(const Error& error) {
  const std::error_code& code = error.code();
  auto respond = [&](int status, std::string_view name) {
    return http::JsonError(status, name, error.message());
  };
  if (code == std::errc::bad_message) return respond(400, "malformed_json");
  if (code == std::errc::invalid_argument) return respond(400, "invalid_argument");
  if (code == std::errc::permission_denied) return respond(401, "unauthorized");
  if (code == std::errc::operation_not_supported) return respond(403, "forbidden");
  if (code == std::errc::no_such_file_or_directory) return respond(404, "not_found");
  if (code == std::errc::operation_not_permitted) return respond(409, "conflict");
  if (code == std::errc::resource_unavailable_try_again &&
      error.message().find("retry in") != std::string::npos) {
    auto response = respond(429, "too_many_requests");
    auto pos = error.message().rfind("retry in ");
    response.headers.Set("Retry-After",
                         std::to_string(std::atoll(error.message().c_str() + pos + 9)));
    return response;
  }
  if (code == std::errc::resource_unavailable_try_again) return respond(503, "unavailable");
  if (code == std::errc::timed_out) return respond(504, "timeout");
  if (code == std::errc::io_error || code == std::errc::connection_reset) {
    return respond(502, "host_failed");
  }
  return respond(500, "internal");
}

Result<Caller> Authenticate(ApiContext& context, const http::HttpRequest& request, bool query_ok) {
  std::string token;
  if (auto header = request.headers.Get("Authorization")) {
    constexpr std::string_view kBearer = "Bearer ";
    if (header->size() <= kBearer.size() ||
        !std::equal(kBearer.begin(), kBearer.end(), header->begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return Fail(Unauthorized("the Authorization header must be 'Bearer <token>'"));
    }
    token = std::string(header->substr(kBearer.size()));
  } else if (query_ok) {
    token = request.QueryParam("token").value_or("");
  }
  if (token.empty()) {
    return Fail(
        Unauthorized("log in first: POST /api/v1/login, then send "
                     "'Authorization: Bearer <token>'"));
  }
  std::int64_t now = db::SystemClock()();
  if (auto cached = context.tokens.Find(token, now)) return Caller{cached->user, token};
  auto db = context.pool.Acquire();
  auto owner = db::TokenStore(*db).Validate(token);
  if (!owner) {
    if (owner.error().code() == std::errc::permission_denied) {
      return Fail(Unauthorized("the token is unknown, expired or revoked: log in again"));
    }
    return Fail(std::move(owner).error());
  }
  context.tokens.Put(token, *owner, now);
  return Caller{owner->user, token};
}

std::optional<http::HttpResponse> AuthorizeEventStream(ApiContext& context,
                                                       const http::HttpRequest& request) {
  auto caller = Authenticate(context, request, /*query_ok=*/true);
  if (!caller) return ErrorResponse(caller.error());
  if (!Admits(Access::kReadAll, *caller))
    return ErrorResponse(RoleRefusal(Access::kReadAll, *caller));
  return std::nullopt;
}

Status Route(http::Router& router, ApiContext& context, std::string method,
             std::string_view pattern, Access access, ApiHandler handler) {
  auto guarded = [&context, access, handler = std::move(handler)](
                     const http::HttpRequest& request) -> http::HttpResponse {
    auto start = std::chrono::steady_clock::now();
    http::HttpResponse response;
    Caller caller;
    Result<Caller> authenticated = caller;
    if (access != Access::kAnyone) authenticated = Authenticate(context, request);
    if (!authenticated) {
      response = ErrorResponse(authenticated.error());
    } else if (!Admits(access, *authenticated)) {
      response = ErrorResponse(RoleRefusal(access, *authenticated));
    } else {
      auto result = handler(request, *authenticated);
      response = result ? std::move(*result) : ErrorResponse(result.error());
      // Whatever a request other than a read may have changed, cached listings are stale now,
      // before this response tells the client it is done.
      if (request.method != "GET") context.sessions.Changed();
    }
    response.headers.Set("Cache-Control", "no-store");
    context.metrics.RecordRequest(response.status, std::chrono::steady_clock::now() - start);
    return response;
  };
  return router.Add(std::move(method), pattern, std::move(guarded));
}

}  // namespace moat::broker::api
