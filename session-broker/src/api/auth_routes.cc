// Login, logout, who am I; and the unauthenticated pieces of host enrolment: the CA
// certificate and the one-time-token exchange of a CSR for a client certificate.
#include "api/api.h"
#include "api/request_body.h"
#include "db/enrolment_store.h"
#include "moat/common/log.h"
#include "moat/common/tls/openssl.h"

namespace moat::broker::api {
namespace {

constexpr int kAgentCertificateDays = 825;

// Host names become certificate CNs and database keys: DNS-label characters only.
Status CheckHostName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 253;
  for (char c : name) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_');
  }
  if (!ok) {
    return Fail(InvalidArgument("host name '" + name +
                                "' must be 1 to 253 letters, digits, '-', '_' or '.'"));
  }
  return {};
}

}  // namespace

Status AddAuthRoutes(http::Router& router, ApiContext& ctx) {
  MOAT_TRY_VOID(
      Route(router, ctx, "POST", "/api/v1/login", Access::kAnyone,
            [&ctx](const http::HttpRequest& request, const Caller&) -> Result<http::HttpResponse> {
              MOAT_TRY(auto body, RequestBody::Parse(request, {"user", "password", "ttl_s"}));
              MOAT_TRY(std::string user, body.RequiredString("user", 64));
              MOAT_TRY(std::string password, body.RequiredString("password", 1024));
              MOAT_TRY(auto ttl, body.Integer("ttl_s", 60, ctx.config.token_ttl_s));
              auto db = ctx.pool.Acquire();
              auth::Login login(*db, db::SystemClock(), ctx.pam);
              MOAT_TRY(auth::LoginResult result,
                       login.Run({.user = user,
                                  .password = password,
                                  .address = request.peer_address,
                                  .ttl_seconds = ttl.value_or(ctx.config.token_ttl_s)}));
              return Json(200, {{"token", result.token.token},
                                {"expires_at", result.token.expires_at},
                                {"user", UserJson(result.user)}});
            }));
  MOAT_TRY_VOID(
      Route(router, ctx, "POST", "/api/v1/logout", Access::kAnyUser,
            [&ctx](const http::HttpRequest&, const Caller& caller) -> Result<http::HttpResponse> {
              auto db = ctx.pool.Acquire();
              MOAT_TRY_VOID(auth::Login(*db, db::SystemClock()).Logout(caller.token));
              ctx.tokens.Clear();
              return http::HttpResponse{204, {}, {}};
            }));
  MOAT_TRY_VOID(
      Route(router, ctx, "GET", "/api/v1/me", Access::kAnyUser,
            [](const http::HttpRequest&, const Caller& caller) -> Result<http::HttpResponse> {
              return Json(200, UserJson(caller.user));
            }));
  MOAT_TRY_VOID(
      Route(router, ctx, "GET", "/api/v1/ca", Access::kAnyone,
            [&ctx](const http::HttpRequest&, const Caller&) -> Result<http::HttpResponse> {
              http::HttpResponse response{200, {}, ctx.ca.certificate_pem()};
              response.headers.Set("Content-Type", "application/x-pem-file");
              return response;
            }));
  // The agent proves it holds a one-time token; it gets a certificate for the CSR's key with
  // CN = its host name, and the host is recorded with that certificate's fingerprint.
  MOAT_TRY_VOID(Route(
      router, ctx, "POST", "/api/v1/enrol", Access::kAnyone,
      [&ctx](const http::HttpRequest& request, const Caller&) -> Result<http::HttpResponse> {
        MOAT_TRY(auto body,
                 RequestBody::Parse(request, {"token", "name", "csr", "capacity", "address"}));
        MOAT_TRY(std::string token, body.RequiredString("token", 128));
        MOAT_TRY(std::string name, body.RequiredString("name", 253));
        MOAT_TRY_VOID(CheckHostName(name));
        MOAT_TRY(std::string csr, body.RequiredString("csr", 16384));
        MOAT_TRY(auto capacity, body.Integer("capacity", 0, 100000));
        MOAT_TRY(auto address, body.String("address", 253));
        auto cert = ctx.ca.SignClientCsr(csr, name, kAgentCertificateDays);
        if (!cert) {
          return Fail(InvalidArgument("'csr' is not a valid PEM certificate request: " +
                                      cert.error().message()));
        }
        MOAT_TRY(std::string fingerprint, tls::CertificateFingerprintPem(*cert));
        auto db = ctx.pool.Acquire();
        MOAT_TRY(db::Host host, db::EnrolmentStore(*db).Redeem(
                                    token, {.name = name,
                                            .address = address.value_or(request.peer_address),
                                            .capacity = capacity.value_or(50),
                                            .cert_fingerprint = fingerprint}));
        log::Info("host enrolled", {{"host", host.name}, {"address", host.address}});
        return Json(200, {{"certificate", *cert},
                          {"ca_certificate", ctx.ca.certificate_pem()},
                          {"host", host.name},
                          {"agent_port", ctx.config.agent_port}});
      }));
  return {};
}

}  // namespace moat::broker::api
