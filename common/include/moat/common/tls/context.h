// TLS contexts with Moat's settings: TLS 1.2 at least, forward-secret AEAD ciphers only, no
// compression, no renegotiation. The result is a plain owning SSL_CTX handle; Boost.Asio can
// adopt it with ssl::context(ctx.release()).
#pragma once

#include <optional>
#include <string>

#include "moat/common/error.h"
#include "moat/common/tls/openssl.h"

namespace moat::tls {

struct ServerContextOptions {
  std::string cert_pem;  // the server certificate, optionally followed by its chain
  std::string key_pem;
  // CAs whose client certificates are accepted; none: clients are not asked for one.
  std::optional<std::string> client_ca_pem;
  // With client_ca_pem: refuse clients that send no certificate (mutual TLS).
  bool require_client_cert = true;
};

struct ClientContextOptions {
  std::string ca_pem{};  // the CAs that may have issued the server's certificate
  // For mutual TLS; both or neither.
  std::optional<std::string> client_cert_pem{};
  std::optional<std::string> client_key_pem{};
  // The DNS name or IP address the server certificate must carry. When empty, only the chain is
  // checked: right for a pinned private CA that issues to one server; otherwise set it.
  std::string verify_hostname{};
};

Result<SslCtxPtr> MakeServerContext(const ServerContextOptions& options);
Result<SslCtxPtr> MakeClientContext(const ClientContextOptions& options);

// The verify result of a finished handshake as text, e.g. "certificate has expired".
std::string PeerVerifyResult(const SSL* ssl);
// The subject CN of the verified peer certificate: on the broker, the host name the CA put
// into an agent's certificate at enrolment. Empty without a peer certificate.
std::string PeerCommonName(const SSL* ssl);

}  // namespace moat::tls
