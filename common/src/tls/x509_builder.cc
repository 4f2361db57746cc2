#include "moat/common/tls/x509_builder.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

namespace moat::tls {
namespace {

using BignumPtr = std::unique_ptr<BIGNUM, OpenSslFree<BN_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpenSslFree<GENERAL_NAMES_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, OpenSslFree<GENERAL_NAME_free>>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpenSslFree<X509_EXTENSION_free>>;

// 128 random bits, top bit clear so the DER integer stays positive and 16 bytes long at most.
Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return FailOpenSsl("RAND_bytes");
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);  // never zero, never short
  BignumPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (!bn) return FailOpenSsl("BN_bin2bn");
  if (!BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert))) {
    return FailOpenSsl("BN_to_ASN1_INTEGER");
  }
  return {};
}

bool IsIpAddress(const std::string& name) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, name.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, name.c_str(), buffer) == 1;
}

// Host names as certificates carry them: letters, digits, '-', '.', and a leading "*.".
bool IsDnsName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  size_t start = name.rfind("*.", 0) == 0 ? 2 : 0;
  if (start == name.size()) return false;
  for (size_t i = start; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

Result<GeneralNamePtr> MakeGeneralName(const std::string& name) {
  GeneralNamePtr general(GENERAL_NAME_new());
  if (!general) return FailOpenSsl("GENERAL_NAME_new");
  if (IsIpAddress(name)) {
    ASN1_OCTET_STRING* ip = a2i_IPADDRESS(name.c_str());
    if (!ip) return FailOpenSsl("a2i_IPADDRESS", name);
    GENERAL_NAME_set0_value(general.get(), GEN_IPADD, ip);
    return general;
  }
  if (!IsDnsName(name)) {
    return Fail(InvalidArgument("subject alternative name '" + name +
                                "' is neither a host name nor an IP address"));
  }
  ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
  if (!dns) return FailOpenSsl("ASN1_IA5STRING_new");
  if (ASN1_STRING_set(dns, name.data(), static_cast<int>(name.size())) != 1) {
    ASN1_IA5STRING_free(dns);
    return FailOpenSsl("ASN1_STRING_set", name);
  }
  GENERAL_NAME_set0_value(general.get(), GEN_DNS, dns);
  return general;
}

Status AddSubjectAltNames(X509* cert, const std::vector<std::string>& names) {
  GeneralNamesPtr list(sk_GENERAL_NAME_new_null());
  if (!list) return FailOpenSsl("sk_GENERAL_NAME_new_null");
  for (const auto& name : names) {
    MOAT_TRY(auto general, MakeGeneralName(name));
    if (sk_GENERAL_NAME_push(list.get(), general.get()) == 0) {
      return FailOpenSsl("sk_GENERAL_NAME_push");
    }
    (void)general.release();  // owned by the list now
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, list.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return FailOpenSsl("X509_add1_ext_i2d", "subjectAltName");
  }
  return {};
}

Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext) return FailOpenSsl("X509V3_EXT_conf_nid", value);
  if (X509_add_ext(cert, ext.get(), -1) != 1) return FailOpenSsl("X509_add_ext", value);
  return {};
}

Status AddRoleExtensions(X509* cert, X509* issuer, CertificateRole role) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, nullptr, nullptr, 0);
  // The subject key id goes first: a self-signed certificate's authority key id refers to it.
  MOAT_TRY_VOID(AddExtension(cert, &ctx, NID_subject_key_identifier, "hash"));
  MOAT_TRY_VOID(AddExtension(cert, &ctx, NID_authority_key_identifier, "keyid"));
  switch (role) {
    case CertificateRole::kCa:
      MOAT_TRY_VOID(AddExtension(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE"));
      MOAT_TRY_VOID(AddExtension(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
      break;
    case CertificateRole::kServer:
    case CertificateRole::kClient:
      MOAT_TRY_VOID(AddExtension(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE"));
      MOAT_TRY_VOID(AddExtension(cert, &ctx, NID_key_usage, "critical,digitalSignature"));
      MOAT_TRY_VOID(AddExtension(cert, &ctx, NID_ext_key_usage,
                                 role == CertificateRole::kServer ? "serverAuth" : "clientAuth"));
      break;
  }
  return {};
}

Status SetNamesAndValidity(X509* cert, const CertificateRequest& request, X509* issuer) {
  if (request.common_name.empty() || request.common_name.size() > 64) {
    return Fail(InvalidArgument("certificate common name must be 1 to 64 bytes"));
  }
  if (request.days < 1 || request.days > 36500) {
    return Fail(InvalidArgument("certificate validity must be 1 to 36500 days, not " +
                                std::to_string(request.days)));
  }
  if (X509_set_version(cert, X509_VERSION_3) != 1) return FailOpenSsl("X509_set_version");
  MOAT_TRY_VOID(SetRandomSerial(cert));
  // Five minutes of slack for peers whose clocks run a little behind ours.
  if (!X509_gmtime_adj(X509_getm_notBefore(cert), -300) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert), 86400L * request.days)) {
    return FailOpenSsl("X509_gmtime_adj");
  }
  X509_NAME* subject = X509_get_subject_name(cert);
  const auto* cn = reinterpret_cast<const unsigned char*>(request.common_name.data());
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, cn,
                                 static_cast<int>(request.common_name.size()), -1, 0) != 1) {
    return FailOpenSsl("X509_NAME_add_entry_by_txt", request.common_name);
  }
  X509_NAME* issuer_name = issuer ? X509_get_subject_name(issuer) : subject;
  if (X509_set_issuer_name(cert, issuer_name) != 1) return FailOpenSsl("X509_set_issuer_name");
  return {};
}

}  // namespace

Result<X509Ptr> BuildCertificate(const CertificateRequest& request, EVP_PKEY* subject_key,
                                 X509* issuer, EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  if (!cert) return FailOpenSsl("X509_new");
  MOAT_TRY_VOID(SetNamesAndValidity(cert.get(), request, issuer));
  if (X509_set_pubkey(cert.get(), subject_key) != 1) return FailOpenSsl("X509_set_pubkey");
  MOAT_TRY_VOID(AddRoleExtensions(cert.get(), issuer, request.role));
  if (!request.subject_alt_names.empty()) {
    MOAT_TRY_VOID(AddSubjectAltNames(cert.get(), request.subject_alt_names));
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) return FailOpenSsl("X509_sign");
  return cert;
}

}  // namespace moat::tls
