// The broker's API as moatctl sees it: one HTTPS connection (pinned CA, host name checked), the
// bearer token, and every non-2xx answer turned into an Error whose exit code follows the
// status (exit_code.h) and whose message is the broker's own.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "moat/common/error.h"
#include "moat/common/net/client.h"
#include "moat/common/tls/openssl.h"
#include "moatctl/settings.h"

namespace moat::ctl {

using Json = nlohmann::json;

struct ApiReply {
  int status = 0;
  Json body;        // null for an empty body
  std::string raw;  // the body as sent
};

// The TLS context for `settings`: the CA file must be set and readable; the server certificate
// must chain to it and carry the URL's host (name or IP address).
Result<tls::SslCtxPtr> MakeTlsContext(const Settings& settings, std::string_view url);

class ApiClient {
 public:
  [[nodiscard]] static Result<std::unique_ptr<ApiClient>> Connect(const Settings& settings);

  // Sends with the bearer token (kNotLoggedIn without one). `body` null: no body.
  [[nodiscard]] Result<ApiReply> Call(std::string_view method, std::string_view target,
                                      const Json& body = nullptr);
  // Sends without a token (login).
  [[nodiscard]] Result<ApiReply> CallAnonymous(std::string_view method, std::string_view target,
                                               const Json& body = nullptr);

  const std::string& broker() const { return broker_; }
  const std::string& token() const { return token_; }

 private:
  ApiClient(std::unique_ptr<net::HttpsClient> client, std::string broker, std::string token);
  Result<ApiReply> Send(std::string_view method, std::string_view target, const Json& body,
                        bool with_token);

  std::unique_ptr<net::HttpsClient> client_;
  std::string broker_;
  std::string token_;
};

// Percent-encodes a path segment or query value.
std::string UrlEncode(std::string_view text);

}  // namespace moat::ctl
