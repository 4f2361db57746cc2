#include "moatctl/api_client.h"

#include <chrono>
#include <fstream>
#include <sstream>

#include "moat/common/tls/context.h"
#include "moatctl/exit_code.h"

namespace moat::ctl {
namespace {

// Host operations (create, limits, launch) wait for an agent; the broker answers 504 itself
// when a host is slow, so this only catches a broker that stopped answering.
constexpr std::chrono::seconds kTimeout{90};

Result<std::string> ReadCa(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return Fail(Exit::kUsage, ErrnoError("read the CA certificate", path).message() +
                                  " (give the broker's <state>/ca/ca.crt with --ca or MOAT_CA)");
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The broker's {"error","message"} body, or the status line when the body is not that.
std::string RefusalMessage(const net::ClientResponse& response) {
  auto json = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (json.is_object() && json.contains("message") && json["message"].is_string()) {
    return json["message"].get<std::string>();
  }
  std::string text = "the broker answered " + std::to_string(response.status);
  if (!response.body.empty() && response.body.size() < 200) text += ": " + response.body;
  return text;
}

}  // namespace

Result<tls::SslCtxPtr> MakeTlsContext(const Settings& settings, std::string_view url) {
  if (settings.ca_file.empty()) {
    return UsageError(
        "no CA certificate: give --ca FILE (the broker's <state>/ca/ca.crt, or fetch it from "
        "GET /api/v1/ca and check its fingerprint) or set MOAT_CA");
  }
  auto parsed = net::ParseUrl(url);
  if (!parsed) return UsageError(parsed.error().message());
  MOAT_TRY(std::string ca_pem, ReadCa(settings.ca_file));
  auto ctx = tls::MakeClientContext({.ca_pem = ca_pem,
                                     .client_cert_pem = std::nullopt,
                                     .client_key_pem = std::nullopt,
                                     .verify_hostname = parsed->host});
  if (!ctx) return Fail(Exit::kUsage, ctx.error().Wrap("CA '" + settings.ca_file + "'").message());
  return std::move(*ctx);
}

Result<std::unique_ptr<ApiClient>> ApiClient::Connect(const Settings& settings) {
  if (settings.broker.empty()) {
    return UsageError("no broker: give --broker https://HOST:8443, set MOAT_BROKER, or log in");
  }
  if (settings.broker.rfind("https://", 0) != 0) {
    return UsageError("the broker URL must start with https://, not '" + settings.broker + "'");
  }
  MOAT_TRY(tls::SslCtxPtr ctx, MakeTlsContext(settings, settings.broker));
  auto client = net::HttpsClient::Connect(settings.broker, std::move(ctx), kTimeout);
  if (!client) {
    return Fail(
        Exit::kUnreachable,
        client.error().Wrap("cannot reach the broker at '" + settings.broker + "'").message());
  }
  return std::unique_ptr<ApiClient>(
      new ApiClient(std::move(*client), settings.broker, settings.token));
}

ApiClient::ApiClient(std::unique_ptr<net::HttpsClient> client, std::string broker,
                     std::string token)
    : client_(std::move(client)), broker_(std::move(broker)), token_(std::move(token)) {}

Result<ApiReply> ApiClient::Call(std::string_view method, std::string_view target,
                                 const Json& body) {
  if (token_.empty()) {
    return Fail(Exit::kAuth, "not logged in: run 'moatctl login USER', or set MOAT_TOKEN");
  }
  return Send(method, target, body, /*with_token=*/true);
}

Result<ApiReply> ApiClient::CallAnonymous(std::string_view method, std::string_view target,
                                          const Json& body) {
  return Send(method, target, body, /*with_token=*/false);
}

Result<ApiReply> ApiClient::Send(std::string_view method, std::string_view target, const Json& body,
                                 bool with_token) {
  net::ClientRequest request{.method = std::string(method),
                             .target = std::string(target),
                             .headers = {},
                             .body = body.is_null() ? std::string() : body.dump()};
  if (with_token) request.headers.emplace_back("Authorization", "Bearer " + token_);
  auto response = client_->Send(request);
  if (!response) {
    return Fail(Exit::kUnreachable,
                response.error().Wrap(std::string(method) + " " + std::string(target)).message());
  }
  Exit exit = ExitForHttpStatus(response->status);
  if (exit != Exit::kOk) {
    std::string message = RefusalMessage(*response);
    if (exit == Exit::kAuth && with_token && message.find("log in") == std::string::npos) {
      message += " (log in again with 'moatctl login USER')";
    }
    return Fail(exit, std::move(message));
  }
  ApiReply reply;
  reply.status = response->status;
  reply.raw = std::move(response->body);
  if (!reply.raw.empty()) {
    reply.body = Json::parse(reply.raw, nullptr, /*allow_exceptions=*/false);
    if (reply.body.is_discarded()) {
      return Fail(Exit::kUnreachable, std::string(method) + " " + std::string(target) +
                                          ": the broker's answer is not JSON");
    }
  }
  return reply;
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace moat::ctl
