// Building blocks for certificates: serials, validity, names and extensions. Used by the CA;
// tests use them to make certificates a real CA would never issue.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "moat/common/error.h"
#include "moat/common/tls/openssl.h"

namespace moat::tls {

enum class CertificateRole { kCa, kServer, kClient };

struct CertificateRequest {
  std::string common_name;
  std::vector<std::string> subject_alt_names;  // DNS names or IP addresses (kServer)
  CertificateRole role = CertificateRole::kClient;
  int days = 365;
};

// Builds and signs a v3 certificate for `subject_key` (public part) with a random 128-bit
// serial. Self-signed when `issuer` is null (then `issuer_key` must be `subject_key`'s pair).
Result<X509Ptr> BuildCertificate(const CertificateRequest& request, EVP_PKEY* subject_key,
                                 X509* issuer, EVP_PKEY* issuer_key);

}  // namespace moat::tls
