// Moat's own certificate authority: the broker keeps one on disk and issues its server
// certificate and every agent's client certificate (at enrolment) from it.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "moat/common/error.h"
#include "moat/common/tls/openssl.h"

namespace moat::tls {

// A private key and the certificate for it, both PEM.
struct KeyAndCertificate {
  std::string key_pem;
  std::string cert_pem;
};

// What an agent sends at enrolment, and the key it keeps.
struct KeyAndCsr {
  std::string key_pem;
  std::string csr_pem;
};

class CertificateAuthority {
 public:
  static constexpr int kCaDays = 3650;
  static constexpr const char* kKeyFile = "ca.key";
  static constexpr const char* kCertFile = "ca.crt";

  // First start: creates `dir` (0700), an EC P-256 key (ca.key, 0600) and a self-signed CA
  // certificate (ca.crt, 0644), each written atomically. Later starts: loads both, refuses a
  // key that others may read, and checks that the key belongs to the certificate.
  static Result<CertificateAuthority> LoadOrCreate(const std::filesystem::path& dir,
                                                   std::string_view common_name = "Moat CA");

  // A server certificate for `names` (DNS names or IPv4/IPv6 addresses, each one SAN entry;
  // the first is also the subject CN) with extendedKeyUsage serverAuth and a fresh key.
  Result<KeyAndCertificate> IssueServerCertificate(const std::vector<std::string>& names,
                                                   int days) const;

  // An agent's client certificate (extendedKeyUsage clientAuth). The CSR's signature proves
  // its holder owns the key; its subject and requested extensions are ignored: the CN is
  // `common_name`, chosen by the broker.
  Result<std::string> SignClientCsr(std::string_view csr_pem, std::string_view common_name,
                                    int days) const;

  const std::string& certificate_pem() const { return cert_pem_; }
  // SHA-256 fingerprint of the CA certificate, for trust-on-first-use prompts.
  const std::string& fingerprint() const { return fingerprint_; }

 private:
  CertificateAuthority(PkeyPtr key, X509Ptr cert, std::string cert_pem, std::string fingerprint)
      : key_(std::move(key)),
        cert_(std::move(cert)),
        cert_pem_(std::move(cert_pem)),
        fingerprint_(std::move(fingerprint)) {}

  PkeyPtr key_;
  X509Ptr cert_;
  std::string cert_pem_;
  std::string fingerprint_;
};

// The agent side of enrolment: a fresh key and a CSR for it with subject CN=`common_name`.
Result<KeyAndCsr> MakeCsr(std::string_view common_name);

}  // namespace moat::tls
