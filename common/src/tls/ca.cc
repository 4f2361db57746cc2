#include "moat/common/tls/ca.h"

#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "moat/common/scope_guard.h"
#include "moat/common/tls/x509_builder.h"
#include "moat/common/unique_fd.h"

namespace moat::tls {
namespace {

Status WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("write", path);
    done += static_cast<size_t>(n);
  }
  return {};
}

// Temp file beside the target, then rename: a crash leaves the old file or the new one,
// never half a key. The mode is set before any byte is written.
Status WriteFileAtomically(const std::filesystem::path& path, const std::string& data,
                           mode_t mode) {
  std::string temp = path.string() + ".tmp.XXXXXX";
  UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd) return FailErrno("mkostemp", temp);
  ScopeGuard remove_temp([&] { ::unlink(temp.c_str()); });
  if (::fchmod(fd.get(), mode) != 0) return FailErrno("fchmod", temp);
  MOAT_TRY_VOID(WriteAll(fd.get(), data, temp));
  if (::fsync(fd.get()) != 0) return FailErrno("fsync", temp);
  if (::rename(temp.c_str(), path.c_str()) != 0) return FailErrno("rename", path.string());
  remove_temp.Dismiss();
  UniqueFd dir(::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir) ::fsync(dir.get());  // best effort: the rename itself is already atomic
  return {};
}

Result<std::string> ReadFile(const std::filesystem::path& path, bool secret) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return FailErrno("open", path.string());
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return FailErrno("fstat", path.string());
  if (secret && (st.st_mode & 077) != 0) {
    return Fail(Error(
        std::make_error_code(std::errc::permission_denied),
        "private key '" + path.string() + "' may be read by group or others; run chmod 600 on it"));
  }
  std::string data;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("read", path.string());
    if (n == 0) break;
    data.append(buffer, static_cast<size_t>(n));
  }
  return data;
}

Status EnsureDirectory(const std::filesystem::path& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return {};
  return FailErrno("mkdir", dir.string());
}

bool Exists(const std::filesystem::path& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Result<X509ReqPtr> ParseCsrPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return FailOpenSsl("BIO_new_mem_buf");
  X509ReqPtr csr(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!csr) return FailOpenSsl("PEM_read_bio_X509_REQ");
  return csr;
}

}  // namespace

Result<CertificateAuthority> CertificateAuthority::LoadOrCreate(const std::filesystem::path& dir,
                                                                std::string_view common_name) {
  MOAT_TRY_VOID(EnsureDirectory(dir));
  auto key_path = dir / kKeyFile;
  auto cert_path = dir / kCertFile;
  bool have_key = Exists(key_path);
  bool have_cert = Exists(cert_path);

  if (!have_key && !have_cert) {
    MOAT_TRY_CTX(auto key, GenerateKey(), "create CA");
    CertificateRequest request{std::string(common_name), {}, CertificateRole::kCa, kCaDays};
    MOAT_TRY_CTX(auto cert, BuildCertificate(request, key.get(), nullptr, key.get()), "create CA");
    MOAT_TRY(auto key_pem, PrivateKeyToPem(key.get()));
    MOAT_TRY(auto cert_pem, CertificateToPem(cert.get()));
    // Key first: a crash in between leaves a key without a certificate, which the next start
    // reports instead of silently minting a second CA that enrolled agents do not trust.
    MOAT_TRY_VOID_CTX(WriteFileAtomically(key_path, key_pem, 0600), "create CA");
    MOAT_TRY_VOID_CTX(WriteFileAtomically(cert_path, cert_pem, 0644), "create CA");
    MOAT_TRY(auto fingerprint, CertificateFingerprint(cert.get()));
    return CertificateAuthority(std::move(key), std::move(cert), std::move(cert_pem),
                                std::move(fingerprint));
  }
  if (have_key != have_cert) {
    return Fail(InvalidArgument("load CA in '" + dir.string() + "': found " +
                                (have_key ? kKeyFile : kCertFile) + " without " +
                                (have_key ? kCertFile : kKeyFile) +
                                "; restore the missing file, or remove both to create a new CA "
                                "(every enrolled agent must then enrol again)"));
  }

  MOAT_TRY_CTX(auto key_pem, ReadFile(key_path, true), "load CA");
  MOAT_TRY_CTX(auto cert_pem, ReadFile(cert_path, false), "load CA");
  MOAT_TRY_CTX(auto key, ParsePrivateKeyPem(key_pem), "load CA key '" + key_path.string() + "'");
  MOAT_TRY_CTX(auto cert, ParseCertificatePem(cert_pem),
               "load CA certificate '" + cert_path.string() + "'");
  if (EVP_PKEY_eq(X509_get0_pubkey(cert.get()), key.get()) != 1) {
    return Fail(InvalidArgument("load CA: key '" + key_path.string() +
                                "' does not belong to certificate '" + cert_path.string() + "'"));
  }
  if (X509_check_ca(cert.get()) == 0) {
    return Fail(InvalidArgument("load CA: certificate '" + cert_path.string() +
                                "' is not a CA certificate"));
  }
  MOAT_TRY(auto fingerprint, CertificateFingerprint(cert.get()));
  return CertificateAuthority(std::move(key), std::move(cert), std::move(cert_pem),
                              std::move(fingerprint));
}

Result<KeyAndCertificate> CertificateAuthority::IssueServerCertificate(
    const std::vector<std::string>& names, int days) const {
  if (names.empty()) return Fail(InvalidArgument("server certificate needs at least one name"));
  MOAT_TRY(auto key, GenerateKey());
  CertificateRequest request{names.front(), names, CertificateRole::kServer, days};
  MOAT_TRY_CTX(auto cert, BuildCertificate(request, key.get(), cert_.get(), key_.get()),
               "issue server certificate");
  MOAT_TRY(auto key_pem, PrivateKeyToPem(key.get()));
  MOAT_TRY(auto cert_pem, CertificateToPem(cert.get()));
  return KeyAndCertificate{std::move(key_pem), std::move(cert_pem)};
}

Result<std::string> CertificateAuthority::SignClientCsr(std::string_view csr_pem,
                                                        std::string_view common_name,
                                                        int days) const {
  MOAT_TRY_CTX(auto csr, ParseCsrPem(csr_pem), "sign client CSR");
  EVP_PKEY* public_key = X509_REQ_get0_pubkey(csr.get());
  if (!public_key) return FailOpenSsl("sign client CSR: X509_REQ_get0_pubkey");
  // Proof of possession: the requester signed the CSR with the key it wants certified.
  if (X509_REQ_verify(csr.get(), public_key) != 1) {
    return Fail(OpenSslError("X509_REQ_verify").Wrap("sign client CSR: bad CSR signature"));
  }
  CertificateRequest request{std::string(common_name), {}, CertificateRole::kClient, days};
  MOAT_TRY_CTX(auto cert, BuildCertificate(request, public_key, cert_.get(), key_.get()),
               "sign client CSR");
  return CertificateToPem(cert.get());
}

Result<KeyAndCsr> MakeCsr(std::string_view common_name) {
  if (common_name.empty() || common_name.size() > 64) {
    return Fail(InvalidArgument("CSR common name must be 1 to 64 bytes"));
  }
  MOAT_TRY(auto key, GenerateKey());
  X509ReqPtr csr(X509_REQ_new());
  if (!csr) return FailOpenSsl("X509_REQ_new");
  X509_NAME* subject = X509_REQ_get_subject_name(csr.get());
  const auto* cn = reinterpret_cast<const unsigned char*>(common_name.data());
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, cn,
                                 static_cast<int>(common_name.size()), -1, 0) != 1) {
    return FailOpenSsl("X509_NAME_add_entry_by_txt", common_name);
  }
  if (X509_REQ_set_pubkey(csr.get(), key.get()) != 1) return FailOpenSsl("X509_REQ_set_pubkey");
  if (X509_REQ_sign(csr.get(), key.get(), EVP_sha256()) <= 0) return FailOpenSsl("X509_REQ_sign");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return FailOpenSsl("BIO_new");
  if (PEM_write_bio_X509_REQ(bio.get(), csr.get()) != 1) {
    return FailOpenSsl("PEM_write_bio_X509_REQ");
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  MOAT_TRY(auto key_pem, PrivateKeyToPem(key.get()));
  return KeyAndCsr{std::move(key_pem), std::string(data, static_cast<size_t>(size))};
}

}  // namespace moat::tls
