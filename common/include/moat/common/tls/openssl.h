// Owning handles for OpenSSL objects, PEM conversion, and errors that carry the OpenSSL error
// queue. Everything in moat::tls holds OpenSSL objects only through these handles.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "moat/common/error.h"

namespace moat::tls {

template <auto FreeFn>
struct OpenSslFree {
  template <typename T>
  void operator()(T* p) const {
    FreeFn(p);
  }
};

using PkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslFree<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslFree<X509_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, OpenSslFree<X509_REQ_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslFree<BIO_free_all>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, OpenSslFree<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OpenSslFree<SSL_free>>;

// "CALL 'OBJECT': error:...:reason; error:...:reason", draining this thread's error queue so
// a later failure does not report stale entries. The code is std::errc::protocol_error.
Error OpenSslError(std::string_view call, std::string_view object = {});
inline tl::unexpected<Error> FailOpenSsl(std::string_view call, std::string_view object = {}) {
  return tl::unexpected<Error>(OpenSslError(call, object));
}

// PEM in and out. Private keys are written unencrypted as PKCS#8; protect them by file mode.
Result<PkeyPtr> ParsePrivateKeyPem(std::string_view pem);
Result<X509Ptr> ParseCertificatePem(std::string_view pem);
// Every certificate in a PEM bundle; an empty bundle is an error.
Result<std::vector<X509Ptr>> ParseCertificateBundlePem(std::string_view pem);
Result<std::string> PrivateKeyToPem(EVP_PKEY* key);
Result<std::string> CertificateToPem(X509* cert);

// A fresh EC P-256 key: accepted by every TLS stack Moat talks to (Qt, browsers, OpenSSL).
Result<PkeyPtr> GenerateKey();

// SHA-256 of the DER encoding as colon-separated upper-case hex ("AB:01:…"), the form that
// browsers and `openssl x509 -fingerprint -sha256` show; for trust-on-first-use prompts.
Result<std::string> CertificateFingerprint(X509* cert);
Result<std::string> CertificateFingerprintPem(std::string_view cert_pem);

}  // namespace moat::tls
