#include "enrolment.h"

#include <openssl/ssl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "moat/common/files.h"
#include "moat/common/net/client.h"
#include "moat/common/tls/ca.h"
#include "moat/common/tls/context.h"
#include "moat/common/wire/envelope.h"

namespace moat::agent {
namespace {

std::string NormalizeFingerprint(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c != ':') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// Only for fetching the CA certificate, which is then checked against the token's fingerprint
// before anything secret is sent.
Result<tls::SslCtxPtr> UnverifiedContext() {
  tls::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return tls::FailOpenSsl("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  return ctx;
}

Result<net::ClientResponse> Call(std::string_view url, tls::SslCtxPtr ctx,
                                 net::ClientRequest request) {
  MOAT_TRY(auto client, net::HttpsClient::Connect(url, std::move(ctx), std::chrono::seconds(30)));
  return client->Send(request);
}

}  // namespace

Result<AgentIdentity> LoadIdentity(const std::filesystem::path& dir) {
  AgentIdentity identity;
  MOAT_TRY(identity.key_pem, ReadWholeFile(dir / "agent.key"));
  MOAT_TRY(identity.cert_pem, ReadWholeFile(dir / "agent.crt"));
  MOAT_TRY(identity.ca_pem, ReadWholeFile(dir / "ca.crt"));
  // Absent when the link URL comes from the command line (the broker's local agent).
  identity.link_url = ReadWholeFile(dir / "link.url").value_or("");
  while (!identity.link_url.empty() &&
         std::isspace(static_cast<unsigned char>(identity.link_url.back()))) {
    identity.link_url.pop_back();
  }
  return identity;
}

Result<AgentIdentity> Enrol(const EnrolmentRequest& request, const std::filesystem::path& dir) {
  auto dot = request.token.rfind('.');
  if (dot == std::string::npos || request.token.size() - dot - 1 != 64) {
    return Fail(
        InvalidArgument("the enrolment token must be SECRET.CA_SHA256 as printed by "
                        "'moatctl hosts token'"));
  }
  std::string secret = request.token.substr(0, dot);
  std::string expected = NormalizeFingerprint(request.token.substr(dot + 1));
  MOAT_TRY(net::BaseUrl base, net::ParseUrl(request.broker_url));
  if (base.scheme != "https") return Fail(InvalidArgument("--broker must be an https:// URL"));

  MOAT_TRY(tls::SslCtxPtr unverified, UnverifiedContext());
  MOAT_TRY(auto ca_reply, Call(request.broker_url, std::move(unverified),
                               {.method = "GET", .target = "/api/v1/ca"}));
  if (ca_reply.status != 200) {
    return Fail(InvalidArgument("GET /api/v1/ca answered " + std::to_string(ca_reply.status)));
  }
  MOAT_TRY(std::string fingerprint, tls::CertificateFingerprintPem(ca_reply.body));
  if (NormalizeFingerprint(fingerprint) != expected) {
    return Fail(Error(std::make_error_code(std::errc::permission_denied),
                      "the broker's CA certificate does not match the token (SHA-256 " +
                          fingerprint + "): wrong broker, or someone in between"));
  }
  std::string ca_pem = ca_reply.body;

  MOAT_TRY(tls::KeyAndCsr csr, tls::MakeCsr(request.host_name));
  MOAT_TRY(tls::SslCtxPtr verified, tls::MakeClientContext({.ca_pem = ca_pem}));
  wire::Json body{{"token", secret},
                  {"name", request.host_name},
                  {"csr", csr.csr_pem},
                  {"capacity", request.capacity}};
  MOAT_TRY(auto reply, Call(request.broker_url, std::move(verified),
                            {.method = "POST", .target = "/api/v1/enrol", .body = body.dump()}));
  wire::Json json = wire::Json::parse(reply.body, nullptr, false);
  if (reply.status != 200 || !json.is_object() || !json.contains("certificate")) {
    std::string message =
        json.is_object() && json.contains("message") && json["message"].is_string()
            ? json["message"].get<std::string>()
            : reply.body;
    return Fail(Error(std::make_error_code(std::errc::permission_denied),
                      "enrolment refused (" + std::to_string(reply.status) + "): " + message));
  }
  AgentIdentity identity{csr.key_pem, json["certificate"].get<std::string>(), ca_pem,
                         "wss://" + base.HostPort().substr(0, base.HostPort().rfind(':')) + ":" +
                             std::to_string(json.value("agent_port", 8444)) + "/api/v1/agent"};
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Fail(Error(ec, "create '" + dir.string() + "'"));
  ::chmod(dir.c_str(), 0700);
  MOAT_TRY_VOID(WriteFileAtomic(dir / "agent.key", identity.key_pem, 0600));
  MOAT_TRY_VOID(WriteFileAtomic(dir / "agent.crt", identity.cert_pem, 0644));
  MOAT_TRY_VOID(WriteFileAtomic(dir / "ca.crt", identity.ca_pem, 0644));
  MOAT_TRY_VOID(WriteFileAtomic(dir / "link.url", identity.link_url + "\n", 0644));
  return identity;
}

}  // namespace moat::agent
