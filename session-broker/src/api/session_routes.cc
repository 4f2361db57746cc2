// /api/v1/sessions: list, show, create, limits, suspend, resume, disconnect, end; the
// applications and processes inside a session; its usage.
#include "api/api.h"
#include "api/request_body.h"
#include "db/app_store.h"
#include "db/session_state.h"
#include "db/usage_store.h"

namespace moat::broker::api {
namespace {

Error NotYours(std::string_view id) {
  // The same answer as for a session that does not exist: users learn nothing of others'.
  return db::NotFound("no session '" + std::string(id) + "'");
}

// The session, if the caller may see it: its owner, or a role that reads everything.
Result<SessionView> Visible(ApiContext& ctx, const Caller& caller, std::string_view id) {
  auto db = ctx.pool.Acquire();
  auto session = GetSessionView(*db, id);
  if (!session) return session;
  if (!caller.CanReadAll() && session->user_id != caller.user.id) return Fail(NotYours(id));
  return session;
}

// Owners may act on their own sessions; others need `operate` (admin or operator).
Result<SessionView> Actionable(ApiContext& ctx, const Caller& caller, std::string_view id,
                               bool owner_ok) {
  MOAT_TRY(SessionView session, Visible(ctx, caller, id));
  bool owner = session.user_id == caller.user.id;
  if ((owner && owner_ok) || caller.CanOperate()) return session;
  return Fail(
      db::Forbidden("this action on another user's session needs the role admin or "
                    "operator; you are " +
                    std::string(db::ToString(caller.user.role))));
}

wire::Json WithUsage(ApiContext& ctx, const SessionView& session) {
  wire::Json json = ToJson(session);
  auto usage = ctx.sessions.LatestUsage(session.id);
  json["usage"] = usage ? ToJson(*usage) : wire::Json(nullptr);
  return json;
}

Result<int> QueryInt(const http::HttpRequest& request, std::string_view name, int fallback, int min,
                     int max) {
  auto text = request.QueryParam(name);
  if (!text) return fallback;
  char* end = nullptr;
  long value = std::strtol(text->c_str(), &end, 10);
  if (text->empty() || *end != '\0' || value < min || value > max) {
    return Fail(InvalidArgument("query parameter '" + std::string(name) + "' must be a number " +
                                std::to_string(min) + " to " + std::to_string(max)));
  }
  return static_cast<int>(value);
}

Result<SessionQuery> ParseListQuery(const http::HttpRequest& request, const Caller& caller) {
  SessionQuery query;
  query.user = request.QueryParam("user");
  query.host = request.QueryParam("host");
  query.state = request.QueryParam("state");
  if (query.state && !db::ParseSessionState(*query.state)) {
    return Fail(InvalidArgument("unknown state '" + *query.state +
                                "' (starting, active, disconnected, suspended, ending, ended, "
                                "failed)"));
  }
  if (auto live = request.QueryParam("live")) {
    if (*live != "0" && *live != "1" && *live != "true" && *live != "false") {
      return Fail(InvalidArgument("query parameter 'live' must be 1 or 0"));
    }
    query.live_only = *live == "1" || *live == "true";
  }
  MOAT_TRY(query.limit, QueryInt(request, "limit", 100, 1, 1000));
  MOAT_TRY(query.offset, QueryInt(request, "offset", 0, 0, 100000000));
  if (!caller.CanReadAll()) {
    if (query.user && *query.user != caller.user.name) {
      return Fail(db::Forbidden("users see their own sessions only"));
    }
    query.user = caller.user.name;
  }
  return query;
}

// Rendered listing pages, valid while SessionService::generation() stays the same: a console
// polling the list costs one query per change instead of one per poll.
class ListingCache {
 public:
  std::shared_ptr<const std::string> Find(std::uint64_t generation, const std::string& key) {
    std::lock_guard lock(mutex_);
    if (generation != generation_) return nullptr;
    auto it = pages_.find(key);
    return it == pages_.end() ? nullptr : it->second;
  }
  void Put(std::uint64_t generation, const std::string& key,
           std::shared_ptr<const std::string> page) {
    std::lock_guard lock(mutex_);
    if (generation != generation_) {
      if (generation < generation_) return;  // built from older data than what is cached
      pages_.clear();
      generation_ = generation;
    }
    if (pages_.size() >= kMaxPages) pages_.clear();
    pages_[key] = std::move(page);
  }

 private:
  static constexpr size_t kMaxPages = 256;
  std::mutex mutex_;
  std::uint64_t generation_ = 0;
  std::map<std::string, std::shared_ptr<const std::string>> pages_;
};

std::string CacheKey(const SessionQuery& q) {
  auto part = [](const std::optional<std::string>& v) { return v ? "=" + *v : std::string("-"); };
  return part(q.user) + "\n" + part(q.host) + "\n" + part(q.state) + "\n" +
         (q.live_only ? "1" : "0") + "\n" + std::to_string(q.limit) + "\n" +
         std::to_string(q.offset);
}

Result<std::string> RenderListing(ApiContext& ctx, const SessionQuery& query) {
  auto db = ctx.pool.Acquire();
  MOAT_TRY(auto sessions, ListSessionViews(*db, query));
  auto usage = ctx.sessions.LatestUsageJson();
  std::string body;
  body.reserve(256 + sessions.size() * 700);
  body += "{\"limit\":" + std::to_string(query.limit) +
          ",\"offset\":" + std::to_string(query.offset) + ",\"sessions\":[";
  for (size_t i = 0; i < sessions.size(); ++i) {
    if (i > 0) body += ',';
    auto found = usage->find(sessions[i].id);
    AppendJson(body, sessions[i], found == usage->end() ? std::string_view() : found->second);
  }
  body += "]}";
  return body;
}

using Action = Result<SessionView> (SessionService::*)(std::string_view, const db::Actor&);

Status AddAction(http::Router& router, ApiContext& ctx, std::string_view verb, Action action,
                 bool owner_ok) {
  std::string pattern = "/api/v1/sessions/{id}/" + std::string(verb);
  return Route(router, ctx, "POST", pattern, Access::kChange,
               [&ctx, action, owner_ok](const http::HttpRequest& request,
                                        const Caller& caller) -> Result<http::HttpResponse> {
                 MOAT_TRY(auto body, RequestBody::Parse(request, {}, /*empty_ok=*/true));
                 (void)body;
                 std::string id(request.PathParam("id"));
                 MOAT_TRY_VOID(Actionable(ctx, caller, id, owner_ok));
                 MOAT_TRY(SessionView session, (ctx.sessions.*action)(id, caller.actor()));
                 return Json(200, WithUsage(ctx, session));
               });
}

Result<http::HttpResponse> EndSession(ApiContext& ctx, const http::HttpRequest& request,
                                      const Caller& caller) {
  MOAT_TRY(auto body, RequestBody::Parse(request, {"reason"}, /*empty_ok=*/true));
  MOAT_TRY(auto reason, body.String("reason", 256));
  std::string id(request.PathParam("id"));
  MOAT_TRY_VOID(Actionable(ctx, caller, id, /*owner_ok=*/true));
  MOAT_TRY(SessionView session,
           ctx.sessions.End(id, caller.actor(), reason.value_or("ended by " + caller.user.name)));
  return Json(200, WithUsage(ctx, session));
}

}  // namespace

Status AddSessionRoutes(http::Router& router, ApiContext& ctx) {
  auto cache = std::make_shared<ListingCache>();
  MOAT_TRY_VOID(Route(router, ctx, "GET", "/api/v1/sessions", Access::kAnyUser,
                      [&ctx, cache](const http::HttpRequest& request,
                                    const Caller& caller) -> Result<http::HttpResponse> {
                        MOAT_TRY(SessionQuery query, ParseListQuery(request, caller));
                        std::string key = CacheKey(query);
                        // Read before the query: a change during it makes this page stale, never a
                        // newer one.
                        std::uint64_t generation = ctx.sessions.generation();
                        std::shared_ptr<const std::string> page = cache->Find(generation, key);
                        if (!page) {
                          MOAT_TRY(std::string body, RenderListing(ctx, query));
                          page = std::make_shared<const std::string>(std::move(body));
                          cache->Put(generation, key, page);
                        }
                        return http::JsonResponse(200, *page);
                      }));
  MOAT_TRY_VOID(Route(
      router, ctx, "POST", "/api/v1/sessions", Access::kChange,
      [&ctx](const http::HttpRequest& request, const Caller& caller) -> Result<http::HttpResponse> {
        MOAT_TRY(auto body,
                 RequestBody::Parse(request,
                                    {"user", "backend", "limits", "desktop", "geometry", "depth"},
                                    /*empty_ok=*/true));
        MOAT_TRY(auto user, body.String("user", 64));
        MOAT_TRY(auto backend, body.String("backend", 16));
        MOAT_TRY(auto desktop, body.Bool("desktop"));
        MOAT_TRY(auto geometry, body.String("geometry", 16));
        MOAT_TRY(auto depth, body.Integer("depth", 16, 24));
        const wire::Json* limits = body.Get("limits");
        if (limits != nullptr && !limits->is_object()) {
          return Fail(InvalidArgument("'limits' must be an object of limit keys"));
        }
        if (backend && *backend != "sandbox" && *backend != "vm") {
          return Fail(InvalidArgument("'backend' must be 'sandbox' or 'vm'"));
        }
        std::string owner = user.value_or(caller.user.name);
        if (owner != caller.user.name && !caller.Is(db::Role::kAdmin)) {
          return Fail(db::Forbidden("starting a session for another user needs the role admin"));
        }
        if (limits != nullptr && !limits->empty() && !caller.CanOperate()) {
          return Fail(
              db::Forbidden("choosing limits needs the role admin or operator; the policy "
                            "sets yours"));
        }
        CreateSessionRequest create{.user = owner,
                                    .backend = backend,
                                    .limits = limits ? *limits : wire::Json::object(),
                                    .desktop = desktop.value_or(true),
                                    .geometry = geometry,
                                    .depth = depth};
        MOAT_TRY(CreatedSession created, ctx.sessions.Create(create, caller.actor()));
        wire::Json json = WithUsage(ctx, created.session);
        json["reconnected"] = created.reconnected;
        return Json(created.reconnected ? 200 : 201, json);
      }));
  MOAT_TRY_VOID(Route(
      router, ctx, "GET", "/api/v1/sessions/{id}", Access::kAnyUser,
      [&ctx](const http::HttpRequest& request, const Caller& caller) -> Result<http::HttpResponse> {
        MOAT_TRY(SessionView session, Visible(ctx, caller, request.PathParam("id")));
        return Json(200, WithUsage(ctx, session));
      }));
  MOAT_TRY_VOID(Route(router, ctx, "DELETE", "/api/v1/sessions/{id}", Access::kChange,
                      [&ctx](const http::HttpRequest& request, const Caller& caller) {
                        return EndSession(ctx, request, caller);
                      }));
  MOAT_TRY_VOID(Route(router, ctx, "POST", "/api/v1/sessions/{id}/end", Access::kChange,
                      [&ctx](const http::HttpRequest& request, const Caller& caller) {
                        return EndSession(ctx, request, caller);
                      }));
  MOAT_TRY_VOID(AddAction(router, ctx, "suspend", &SessionService::Suspend, false));
  MOAT_TRY_VOID(AddAction(router, ctx, "resume", &SessionService::Resume, false));
  MOAT_TRY_VOID(AddAction(router, ctx, "disconnect", &SessionService::Disconnect, true));

  auto set_limits = [&ctx](const http::HttpRequest& request,
                           const Caller& caller) -> Result<http::HttpResponse> {
    MOAT_TRY(auto body, RequestBody::Parse(request, {"limits"}));
    const wire::Json* limits = body.Get("limits");
    if (limits == nullptr) return Fail(InvalidArgument("'limits' is required"));
    std::string id(request.PathParam("id"));
    MOAT_TRY_VOID(Actionable(ctx, caller, id, /*owner_ok=*/false));
    MOAT_TRY(SessionView session, ctx.sessions.SetLimits(id, *limits, caller.actor()));
    wire::Json json = WithUsage(ctx, session);
    if (auto effective = ctx.sessions.EffectiveLimits(id)) {
      json["effective_limits"] = (*effective).value("limits", wire::Json::object());
    }
    return Json(200, json);
  };
  MOAT_TRY_VOID(
      Route(router, ctx, "POST", "/api/v1/sessions/{id}/limits", Access::kOperate, set_limits));
  MOAT_TRY_VOID(
      Route(router, ctx, "PUT", "/api/v1/sessions/{id}/limits", Access::kOperate, set_limits));
  MOAT_TRY_VOID(Route(
      router, ctx, "GET", "/api/v1/sessions/{id}/limits", Access::kAnyUser,
      [&ctx](const http::HttpRequest& request, const Caller& caller) -> Result<http::HttpResponse> {
        MOAT_TRY(SessionView session, Visible(ctx, caller, request.PathParam("id")));
        MOAT_TRY(wire::Json effective, ctx.sessions.EffectiveLimits(session.id));
        wire::Json stored = wire::Json::parse(session.limits, nullptr, false);
        return Json(200, {{"session_id", session.id},
                          {"limits", stored.is_discarded() ? wire::Json::object() : stored},
                          {"effective_limits", effective.value("limits", wire::Json::object())}});
      }));

  // Applications and processes.
  MOAT_TRY_VOID(Route(
      router, ctx, "POST", "/api/v1/sessions/{id}/apps", Access::kChange,
      [&ctx](const http::HttpRequest& request, const Caller& caller) -> Result<http::HttpResponse> {
        MOAT_TRY(auto body, RequestBody::Parse(request, {"argv", "env", "cwd", "cpu_percent"}));
        MOAT_TRY(auto argv, body.StringArray("argv", 256));
        MOAT_TRY(auto env, body.StringArray("env", 256));
        MOAT_TRY(auto cwd, body.String("cwd", 4096));
        MOAT_TRY(auto cpu, body.Number("cpu_percent", 1, 100000));
        if (!argv || argv->empty()) return Fail(InvalidArgument("'argv' needs at least one item"));
        for (const auto& item : env.value_or(std::vector<std::string>{})) {
          if (item.find('=') == std::string::npos || item.front() == '=') {
            return Fail(InvalidArgument("'env' items must be NAME=VALUE, not '" + item + "'"));
          }
        }
        std::string id(request.PathParam("id"));
        MOAT_TRY(SessionView session, Visible(ctx, caller, id));
        if (session.user_id != caller.user.id && !caller.Is(db::Role::kAdmin)) {
          return Fail(db::Forbidden("launching in another user's session needs the role admin"));
        }
        MOAT_TRY(
            wire::Json launched,
            ctx.sessions.LaunchApp(id, {*argv, env.value_or(std::vector<std::string>{}), cwd, cpu},
                                   caller.actor()));
        return Json(201, launched);
      }));
  MOAT_TRY_VOID(Route(
      router, ctx, "GET", "/api/v1/sessions/{id}/apps", Access::kAnyUser,
      [&ctx](const http::HttpRequest& request, const Caller& caller) -> Result<http::HttpResponse> {
        MOAT_TRY(SessionView session, Visible(ctx, caller, request.PathParam("id")));
        auto db = ctx.pool.Acquire();
        MOAT_TRY(auto apps, db::AppStore(*db).List(session.id));
        wire::Json list = wire::Json::array();
        for (const auto& app : apps) {
          list.push_back({{"id", app.id},
                          {"name", app.name},
                          {"argv", wire::Json::parse(app.argv, nullptr, false)},
                          {"pid", app.pid ? wire::Json(*app.pid) : wire::Json(nullptr)},
                          {"app", app.cgroup ? wire::Json(*app.cgroup) : wire::Json(nullptr)},
                          {"started_at", app.started_at}});
        }
        return Json(200, {{"session_id", session.id}, {"apps", std::move(list)}});
      }));
  MOAT_TRY_VOID(Route(
      router, ctx, "POST", "/api/v1/sessions/{id}/message", Access::kOperate,
      [&ctx](const http::HttpRequest& request, const Caller& caller) -> Result<http::HttpResponse> {
        MOAT_TRY(auto body, RequestBody::Parse(request, {"text"}));
        MOAT_TRY(std::string text, body.RequiredString("text", 2000));
        if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
          return Fail(InvalidArgument("'text' is empty"));
        }
        std::string id(request.PathParam("id"));
        MOAT_TRY_VOID(Visible(ctx, caller, id));
        MOAT_TRY(wire::Json shown, ctx.sessions.SendMessage(id, text, caller.actor()));
        return Json(200, shown);
      }));
  MOAT_TRY_VOID(Route(
      router, ctx, "GET", "/api/v1/sessions/{id}/processes", Access::kAnyUser,
      [&ctx](const http::HttpRequest& request, const Caller& caller) -> Result<http::HttpResponse> {
        MOAT_TRY(SessionView session, Visible(ctx, caller, request.PathParam("id")));
        MOAT_TRY(wire::Json processes, ctx.sessions.Processes(session.id));
        return Json(200, processes);
      }));
  MOAT_TRY_VOID(Route(
      router, ctx, "POST", "/api/v1/sessions/{id}/processes/{pid}/kill", Access::kChange,
      [&ctx](const http::HttpRequest& request, const Caller& caller) -> Result<http::HttpResponse> {
        MOAT_TRY(auto body, RequestBody::Parse(request, {"signal"}, /*empty_ok=*/true));
        MOAT_TRY(auto signal, body.Integer("signal", 1, 64));
        std::string pid_text(request.PathParam("pid"));
        char* end = nullptr;
        long long pid = std::strtoll(pid_text.c_str(), &end, 10);
        if (pid_text.empty() || *end != '\0' || pid < 1) {
          return Fail(InvalidArgument("pid must be a positive number, not '" + pid_text + "'"));
        }
        std::string id(request.PathParam("id"));
        MOAT_TRY_VOID(Actionable(ctx, caller, id, /*owner_ok=*/true));
        MOAT_TRY(wire::Json killed,
                 ctx.sessions.Kill(id, pid, static_cast<int>(signal.value_or(15)), caller.actor()));
        return Json(200, killed);
      }));
  MOAT_TRY_VOID(Route(
      router, ctx, "GET", "/api/v1/sessions/{id}/usage", Access::kAnyUser,
      [&ctx](const http::HttpRequest& request, const Caller& caller) -> Result<http::HttpResponse> {
        MOAT_TRY(SessionView session, Visible(ctx, caller, request.PathParam("id")));
        MOAT_TRY(int minutes, QueryInt(request, "minutes", 60, 1, 60 * 24 * 90));
        std::int64_t now = db::SystemClock()();
        auto db = ctx.pool.Acquire();
        MOAT_TRY(auto rows, db::UsageStore(*db).Minutes(session.id, now - minutes * 60, now));
        wire::Json list = wire::Json::array();
        for (const auto& m : rows) {
          list.push_back({{"minute", m.minute},
                          {"samples", m.samples},
                          {"cpu_percent_avg", m.cpu_percent_avg},
                          {"cpu_percent_max", m.cpu_percent_max},
                          {"memory_avg", m.memory_avg},
                          {"memory_max", m.memory_max},
                          {"pids_max", m.pids_max},
                          {"io_read_bytes", m.io_read_bytes},
                          {"io_write_bytes", m.io_write_bytes},
                          {"oom_kills", m.oom_kills}});
        }
        auto latest = ctx.sessions.LatestUsage(session.id);
        return Json(200, {{"session_id", session.id},
                          {"latest", latest ? ToJson(*latest) : wire::Json(nullptr)},
                          {"minutes", std::move(list)}});
      }));
  return {};
}

}  // namespace moat::broker::api
