#include "moat/common/tls/context.h"

#include <arpa/inet.h>
#include <openssl/x509v3.h>

namespace moat::tls {
namespace {

// Mozilla "intermediate" TLS 1.2 suites: ECDHE for forward secrecy, AEAD only. TLS 1.3 keeps
// OpenSSL's defaults, which are all of that already.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr char kGroups[] = "X25519:P-256:P-384";
// Resumed sessions with client certificates need an id context, or OpenSSL refuses them.
constexpr unsigned char kSessionIdContext[] = "moat";

Result<SslCtxPtr> NewContext(const SSL_METHOD* method) {
  SslCtxPtr ctx(SSL_CTX_new(method));
  if (!ctx) return FailOpenSsl("SSL_CTX_new");
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1) {
    return FailOpenSsl("SSL_CTX_set_min_proto_version");
  }
  SSL_CTX_set_options(
      ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Send exactly the configured chain: without this OpenSSL completes our chain from the
  // verify store, which holds the CAs we trust for the *peer*, not our own issuers.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_NO_AUTO_CHAIN);
  if (SSL_CTX_set_cipher_list(ctx.get(), kTls12Ciphers) != 1) {
    return FailOpenSsl("SSL_CTX_set_cipher_list");
  }
  if (SSL_CTX_set1_groups_list(ctx.get(), kGroups) != 1) {
    return FailOpenSsl("SSL_CTX_set1_groups_list");
  }
  return ctx;
}

Status UseCertificateAndKey(SSL_CTX* ctx, const std::string& cert_pem, const std::string& key_pem) {
  MOAT_TRY_CTX(auto certs, ParseCertificateBundlePem(cert_pem), "certificate");
  MOAT_TRY_CTX(auto key, ParsePrivateKeyPem(key_pem), "private key");
  if (SSL_CTX_use_certificate(ctx, certs.front().get()) != 1) {
    return FailOpenSsl("SSL_CTX_use_certificate");
  }
  for (size_t i = 1; i < certs.size(); ++i) {
    // add0 takes ownership on success.
    if (SSL_CTX_add0_chain_cert(ctx, certs[i].get()) != 1) {
      return FailOpenSsl("SSL_CTX_add0_chain_cert");
    }
    (void)certs[i].release();
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) return FailOpenSsl("SSL_CTX_use_PrivateKey");
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return FailOpenSsl("SSL_CTX_check_private_key", "key does not match certificate");
  }
  return {};
}

// Trusts exactly the CAs in `ca_pem`, never the system store. With `advertise`, also names
// them to clients in the CertificateRequest so a client with several certificates picks ours.
Status TrustCas(SSL_CTX* ctx, const std::string& ca_pem, bool advertise) {
  MOAT_TRY_CTX(auto cas, ParseCertificateBundlePem(ca_pem), "CA bundle");
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const auto& ca : cas) {
    if (X509_STORE_add_cert(store, ca.get()) != 1) return FailOpenSsl("X509_STORE_add_cert");
    if (advertise && SSL_CTX_add_client_CA(ctx, ca.get()) != 1) {
      return FailOpenSsl("SSL_CTX_add_client_CA");
    }
  }
  return {};
}

Status SetExpectedName(SSL_CTX* ctx, const std::string& name) {
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
  unsigned char buffer[16];
  bool is_ip = inet_pton(AF_INET, name.c_str(), buffer) == 1 ||
               inet_pton(AF_INET6, name.c_str(), buffer) == 1;
  if (is_ip) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) != 1) {
      return FailOpenSsl("X509_VERIFY_PARAM_set1_ip_asc", name);
    }
    return {};
  }
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size()) != 1) {
    return FailOpenSsl("X509_VERIFY_PARAM_set1_host", name);
  }
  return {};
}

}  // namespace

Result<SslCtxPtr> MakeServerContext(const ServerContextOptions& options) {
  MOAT_TRY_CTX(auto ctx, NewContext(TLS_server_method()), "server TLS context");
  MOAT_TRY_VOID_CTX(UseCertificateAndKey(ctx.get(), options.cert_pem, options.key_pem),
                    "server TLS context");
  if (SSL_CTX_set_session_id_context(ctx.get(), kSessionIdContext, sizeof(kSessionIdContext) - 1) !=
      1) {
    return FailOpenSsl("SSL_CTX_set_session_id_context");
  }
  if (options.client_ca_pem) {
    MOAT_TRY_VOID_CTX(TrustCas(ctx.get(), *options.client_ca_pem, true), "server TLS context");
    int mode = SSL_VERIFY_PEER;
    if (options.require_client_cert) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx.get(), mode, nullptr);
    // A client must present a certificate issued for clientAuth, not, say, a server's.
    if (SSL_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT) != 1) {
      return FailOpenSsl("SSL_CTX_set_purpose");
    }
  } else if (options.require_client_cert) {
    return Fail(
        InvalidArgument("server TLS context: requiring a client certificate needs "
                        "the CA that issues them"));
  }
  return ctx;
}

Result<SslCtxPtr> MakeClientContext(const ClientContextOptions& options) {
  MOAT_TRY_CTX(auto ctx, NewContext(TLS_client_method()), "client TLS context");
  MOAT_TRY_VOID_CTX(TrustCas(ctx.get(), options.ca_pem, false), "client TLS context");
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER) != 1) {
    return FailOpenSsl("SSL_CTX_set_purpose");
  }
  if (options.client_cert_pem.has_value() != options.client_key_pem.has_value()) {
    return Fail(
        InvalidArgument("client TLS context: give both the client certificate and its "
                        "key, or neither"));
  }
  if (options.client_cert_pem) {
    MOAT_TRY_VOID_CTX(
        UseCertificateAndKey(ctx.get(), *options.client_cert_pem, *options.client_key_pem),
        "client TLS context");
  }
  if (!options.verify_hostname.empty()) {
    MOAT_TRY_VOID_CTX(SetExpectedName(ctx.get(), options.verify_hostname), "client TLS context");
  }
  return ctx;
}

std::string PeerCommonName(const SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert) return {};
  X509_NAME* subject = X509_get_subject_name(cert);
  int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) return {};
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                     static_cast<size_t>(ASN1_STRING_length(data)));
}

std::string PeerVerifyResult(const SSL* ssl) {
  return X509_verify_cert_error_string(SSL_get_verify_result(ssl));
}

}  // namespace moat::tls
