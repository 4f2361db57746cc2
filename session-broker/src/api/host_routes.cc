// /api/v1/hosts: list (with live load), drain and undrain, enable and disable, capacity, and the
// one-time enrolment tokens for new hosts.
#include "api/api.h"
#include "api/request_body.h"
#include "broker/events.h"
#include "db/enrolment_store.h"
#include "db/host_store.h"

namespace moat::broker::api {
namespace {

Result<wire::Json> HostsWithLoad(ApiContext& ctx) {
  auto db = ctx.pool.Acquire();
  MOAT_TRY(auto hosts, db::HostStore(*db).List());
  MOAT_TRY(auto load, db->Prepare("SELECT id, live_sessions FROM v_hosts_load"));
  std::map<std::int64_t, std::int64_t> live;
  for (;;) {
    MOAT_TRY(bool row, load.Step());
    if (!row) break;
    live[load.Int(0)] = load.Int(1);
  }
  wire::Json list = wire::Json::array();
  for (const auto& host : hosts) {
    wire::Json json = ToJson(host);
    json["live_sessions"] = live[host.id];
    json["connected"] = ctx.agents.IsConnected(host.id);
    list.push_back(std::move(json));
  }
  return list;
}

using Setter = Result<db::Host> (db::HostStore::*)(std::string_view, bool, const db::Actor&);

Status AddSwitch(http::Router& router, ApiContext& ctx, std::string_view verb, Setter setter,
                 bool value) {
  return Route(router, ctx, "POST", "/api/v1/hosts/{name}/" + std::string(verb), Access::kAdmin,
               [&ctx, setter, value](const http::HttpRequest& request,
                                     const Caller& caller) -> Result<http::HttpResponse> {
                 MOAT_TRY(auto body, RequestBody::Parse(request, {}, /*empty_ok=*/true));
                 (void)body;
                 auto db = ctx.pool.Acquire();
                 db::HostStore hosts(*db);
                 MOAT_TRY(db::Host host,
                          (hosts.*setter)(request.PathParam("name"), value, caller.actor()));
                 Events(ctx.hub).Host(host, ctx.agents.IsConnected(host.id));
                 return Json(200, ToJson(host));
               });
}

}  // namespace

Status AddHostRoutes(http::Router& router, ApiContext& ctx) {
  MOAT_TRY_VOID(
      Route(router, ctx, "GET", "/api/v1/hosts", Access::kReadAll,
            [&ctx](const http::HttpRequest&, const Caller&) -> Result<http::HttpResponse> {
              MOAT_TRY(wire::Json hosts, HostsWithLoad(ctx));
              return Json(200, {{"hosts", std::move(hosts)}});
            }));
  MOAT_TRY_VOID(AddSwitch(router, ctx, "drain", &db::HostStore::SetDrained, true));
  MOAT_TRY_VOID(AddSwitch(router, ctx, "undrain", &db::HostStore::SetDrained, false));
  MOAT_TRY_VOID(AddSwitch(router, ctx, "disable", &db::HostStore::SetEnabled, false));
  MOAT_TRY_VOID(AddSwitch(router, ctx, "enable", &db::HostStore::SetEnabled, true));
  MOAT_TRY_VOID(Route(
      router, ctx, "POST", "/api/v1/hosts/{name}/capacity", Access::kAdmin,
      [&ctx](const http::HttpRequest& request, const Caller& caller) -> Result<http::HttpResponse> {
        MOAT_TRY(auto body, RequestBody::Parse(request, {"capacity"}));
        MOAT_TRY(auto capacity, body.Integer("capacity", 0, 100000));
        if (!capacity) return Fail(InvalidArgument("'capacity' is required"));
        auto db = ctx.pool.Acquire();
        MOAT_TRY(db::Host host, db::HostStore(*db).SetCapacity(request.PathParam("name"), *capacity,
                                                               caller.actor()));
        Events(ctx.hub).Host(host, ctx.agents.IsConnected(host.id));
        return Json(200, ToJson(host));
      }));
  MOAT_TRY_VOID(Route(
      router, ctx, "POST", "/api/v1/hosts/tokens", Access::kAdmin,
      [&ctx](const http::HttpRequest& request, const Caller& caller) -> Result<http::HttpResponse> {
        MOAT_TRY(auto body, RequestBody::Parse(request, {"ttl_s"}, /*empty_ok=*/true));
        MOAT_TRY(auto ttl, body.Integer("ttl_s", 60, 7 * 24 * 3600));
        auto db = ctx.pool.Acquire();
        MOAT_TRY(db::IssuedEnrolment issued,
                 db::EnrolmentStore(*db).Issue(ttl.value_or(3600), caller.actor()));
        // What `moat-agent --token` takes: the secret and the CA it must find at the broker.
        std::string fingerprint;
        for (char ch : ctx.ca.fingerprint()) {
          if (ch != ':')
            fingerprint += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        }
        return Json(201, {{"token", issued.token},
                          {"agent_token", issued.token + "." + fingerprint},
                          {"expires_at", issued.expires_at},
                          {"ca_fingerprint", ctx.ca.fingerprint()},
                          {"agent_port", ctx.config.agent_port}});
      }));
  return {};
}

}  // namespace moat::broker::api
