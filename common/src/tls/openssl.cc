#include "moat/common/tls/openssl.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <climits>

namespace moat::tls {

Error OpenSslError(std::string_view call, std::string_view object) {
  std::string message(call);
  if (!object.empty()) {
    message += " '";
    message += object;
    message += "'";
  }
  message += ": ";
  bool any = false;
  while (unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    if (any) message += "; ";
    message += text;
    any = true;
  }
  if (!any) message += "failed (no OpenSSL error queued)";
  return Error(std::make_error_code(std::errc::protocol_error), std::move(message));
}

namespace {

Result<BioPtr> ReadBio(std::string_view pem) {
  if (pem.size() > INT_MAX) return Fail(InvalidArgument("PEM input too large"));
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return FailOpenSsl("BIO_new_mem_buf");
  return bio;
}

Result<std::string> DrainBio(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  if (size < 0) return FailOpenSsl("BIO_get_mem_data");
  return std::string(data, static_cast<size_t>(size));
}

}  // namespace

Result<PkeyPtr> ParsePrivateKeyPem(std::string_view pem) {
  MOAT_TRY(auto bio, ReadBio(pem));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return FailOpenSsl("PEM_read_bio_PrivateKey");
  return key;
}

Result<X509Ptr> ParseCertificatePem(std::string_view pem) {
  MOAT_TRY(auto bio, ReadBio(pem));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return FailOpenSsl("PEM_read_bio_X509");
  return cert;
}

Result<std::vector<X509Ptr>> ParseCertificateBundlePem(std::string_view pem) {
  MOAT_TRY(auto bio, ReadBio(pem));
  std::vector<X509Ptr> certs;
  while (X509Ptr cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    certs.push_back(std::move(cert));
  }
  // The loop ends on "no start line" at the end of the input; anything else is a real error.
  unsigned long last = ERR_peek_last_error();
  if (ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
    ERR_clear_error();
    if (certs.empty()) return Fail(InvalidArgument("no certificate in PEM bundle"));
    return certs;
  }
  return FailOpenSsl("PEM_read_bio_X509", "certificate bundle");
}

Result<std::string> PrivateKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return FailOpenSsl("BIO_new");
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return FailOpenSsl("PEM_write_bio_PrivateKey");
  }
  return DrainBio(bio.get());
}

Result<std::string> CertificateToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return FailOpenSsl("BIO_new");
  if (PEM_write_bio_X509(bio.get(), cert) != 1) return FailOpenSsl("PEM_write_bio_X509");
  return DrainBio(bio.get());
}

Result<PkeyPtr> GenerateKey() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return FailOpenSsl("EVP_EC_gen", "P-256");
  return key;
}

Result<std::string> CertificateFingerprint(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &length) != 1) return FailOpenSsl("X509_digest");
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    if (i > 0) out += ':';
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

Result<std::string> CertificateFingerprintPem(std::string_view cert_pem) {
  MOAT_TRY(auto cert, ParseCertificatePem(cert_pem));
  return CertificateFingerprint(cert.get());
}

}  // namespace moat::tls
