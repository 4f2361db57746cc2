#include "moat/common/tls/ca.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "moat/common/testing/temp_dir.h"

namespace moat::tls {
namespace {

using TempDir = ::moat::testing::TempDir;

mode_t ModeOf(const std::filesystem::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string Slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Verifies `cert_pem` against `ca_pem` for `purpose` (X509_PURPOSE_SSL_SERVER/CLIENT).
bool ChainVerifies(const std::string& cert_pem, const std::string& ca_pem, int purpose) {
  auto cert = ParseCertificatePem(cert_pem);
  auto ca = ParseCertificatePem(ca_pem);
  if (!cert || !ca) return false;
  std::unique_ptr<X509_STORE, OpenSslFree<X509_STORE_free>> store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca->get());
  std::unique_ptr<X509_STORE_CTX, OpenSslFree<X509_STORE_CTX_free>> ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), cert->get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  return X509_verify_cert(ctx.get()) == 1;
}

std::string CommonName(X509* cert) {
  char buffer[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buffer, sizeof(buffer));
  return buffer;
}

TEST(CertificateAuthority, CreatesOnFirstStartWithPrivateModes) {
  TempDir temp;
  auto dir = temp.path() / "ca";
  auto ca = CertificateAuthority::LoadOrCreate(dir);
  ASSERT_TRUE(ca) << ca.error().message();
  EXPECT_EQ(ModeOf(dir), 0700u);
  EXPECT_EQ(ModeOf(dir / "ca.key"), 0600u);
  EXPECT_EQ(ModeOf(dir / "ca.crt"), 0644u);
  EXPECT_EQ(Slurp(dir / "ca.crt"), ca->certificate_pem());
  // No temporary file is left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 2);
}

TEST(CertificateAuthority, LoadsTheSameCaOnLaterStarts) {
  TempDir temp;
  auto first = CertificateAuthority::LoadOrCreate(temp.path());
  ASSERT_TRUE(first) << first.error().message();
  auto second = CertificateAuthority::LoadOrCreate(temp.path());
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(first->fingerprint(), second->fingerprint());
  EXPECT_EQ(first->certificate_pem(), second->certificate_pem());
}

TEST(CertificateAuthority, CaCertificateIsAConstrainedTenYearCa) {
  TempDir temp;
  auto ca = CertificateAuthority::LoadOrCreate(temp.path(), "Test CA");
  ASSERT_TRUE(ca) << ca.error().message();
  auto cert = ParseCertificatePem(ca->certificate_pem());
  ASSERT_TRUE(cert);
  EXPECT_EQ(CommonName(cert->get()), "Test CA");
  EXPECT_EQ(X509_check_ca(cert->get()), 1);
  int index = X509_get_ext_by_NID(cert->get(), NID_basic_constraints, -1);
  ASSERT_GE(index, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(cert->get(), index)), 1);
  EXPECT_EQ(X509_get_key_usage(cert->get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  int days = 0, seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert->get()),
                           X509_get0_notAfter(cert->get())),
            1);
  EXPECT_GE(days, 3650);
  EXPECT_LE(days, 3651);
  EXPECT_EQ(EVP_PKEY_get_base_id(X509_get0_pubkey(cert->get())), EVP_PKEY_EC);
}

TEST(CertificateAuthority, RefusesKeyThatOthersCanRead) {
  TempDir temp;
  ASSERT_TRUE(CertificateAuthority::LoadOrCreate(temp.path()));
  ASSERT_EQ(::chmod((temp.path() / "ca.key").c_str(), 0644), 0);
  auto ca = CertificateAuthority::LoadOrCreate(temp.path());
  ASSERT_FALSE(ca);
  EXPECT_NE(ca.error().message().find("chmod 600"), std::string::npos) << ca.error().message();
}

TEST(CertificateAuthority, RefusesKeyOfAnotherCa) {
  TempDir one, two;
  ASSERT_TRUE(CertificateAuthority::LoadOrCreate(one.path()));
  ASSERT_TRUE(CertificateAuthority::LoadOrCreate(two.path()));
  std::filesystem::copy_file(two.path() / "ca.key", one.path() / "ca.key",
                             std::filesystem::copy_options::overwrite_existing);
  auto ca = CertificateAuthority::LoadOrCreate(one.path());
  ASSERT_FALSE(ca);
  EXPECT_NE(ca.error().message().find("does not belong"), std::string::npos)
      << ca.error().message();
}

TEST(CertificateAuthority, RefusesHalfCreatedCa) {
  TempDir temp;
  ASSERT_TRUE(CertificateAuthority::LoadOrCreate(temp.path()));
  std::filesystem::remove(temp.path() / "ca.crt");
  auto ca = CertificateAuthority::LoadOrCreate(temp.path());
  ASSERT_FALSE(ca);
  EXPECT_NE(ca.error().message().find("ca.key without ca.crt"), std::string::npos)
      << ca.error().message();
}

TEST(CertificateAuthority, RefusesCorruptKeyWithOpenSslReason) {
  TempDir temp;
  ASSERT_TRUE(CertificateAuthority::LoadOrCreate(temp.path()));
  {
    std::ofstream out(temp.path() / "ca.key", std::ios::trunc);
    out << "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  }
  auto ca = CertificateAuthority::LoadOrCreate(temp.path());
  ASSERT_FALSE(ca);
  EXPECT_NE(ca.error().message().find("PEM_read_bio_PrivateKey"), std::string::npos)
      << ca.error().message();
  EXPECT_NE(ca.error().message().find("error:"), std::string::npos) << ca.error().message();
}

TEST(CertificateAuthority, IssuesServerCertificateWithSansAndServerAuth) {
  TempDir temp;
  auto ca = CertificateAuthority::LoadOrCreate(temp.path());
  ASSERT_TRUE(ca);
  auto issued = ca->IssueServerCertificate({"broker.example", "10.0.0.1", "::1"}, 30);
  ASSERT_TRUE(issued) << issued.error().message();
  auto cert = ParseCertificatePem(issued->cert_pem);
  ASSERT_TRUE(cert);
  auto key = ParsePrivateKeyPem(issued->key_pem);
  ASSERT_TRUE(key);
  EXPECT_EQ(X509_check_private_key(cert->get(), key->get()), 1);
  EXPECT_EQ(CommonName(cert->get()), "broker.example");
  EXPECT_EQ(X509_check_host(cert->get(), "broker.example", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert->get(), "other.example", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(cert->get(), "10.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert->get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_ca(cert->get()), 0);
  EXPECT_EQ(X509_get_extended_key_usage(cert->get()), static_cast<uint32_t>(XKU_SSL_SERVER));
  EXPECT_TRUE(ChainVerifies(issued->cert_pem, ca->certificate_pem(), X509_PURPOSE_SSL_SERVER));
  EXPECT_FALSE(ChainVerifies(issued->cert_pem, ca->certificate_pem(), X509_PURPOSE_SSL_CLIENT));
}

TEST(CertificateAuthority, RefusesSanThatIsNoHostName) {
  TempDir temp;
  auto ca = CertificateAuthority::LoadOrCreate(temp.path());
  ASSERT_TRUE(ca);
  for (const char* bad : {"a,DNS:evil.example", "has space", "", "*."}) {
    auto issued = ca->IssueServerCertificate({"ok.example", bad}, 30);
    EXPECT_FALSE(issued) << bad;
  }
  EXPECT_FALSE(ca->IssueServerCertificate({}, 30));
  EXPECT_FALSE(ca->IssueServerCertificate({"ok.example"}, 0));
}

TEST(CertificateAuthority, SignsClientCsrWithBrokerChosenName) {
  TempDir temp;
  auto ca = CertificateAuthority::LoadOrCreate(temp.path());
  ASSERT_TRUE(ca);
  auto csr = MakeCsr("what-the-agent-asked-for");
  ASSERT_TRUE(csr) << csr.error().message();
  auto signed_pem = ca->SignClientCsr(csr->csr_pem, "host-7", 90);
  ASSERT_TRUE(signed_pem) << signed_pem.error().message();
  auto cert = ParseCertificatePem(*signed_pem);
  ASSERT_TRUE(cert);
  auto key = ParsePrivateKeyPem(csr->key_pem);
  ASSERT_TRUE(key);
  EXPECT_EQ(X509_check_private_key(cert->get(), key->get()), 1);
  EXPECT_EQ(CommonName(cert->get()), "host-7");
  EXPECT_EQ(X509_get_extended_key_usage(cert->get()), static_cast<uint32_t>(XKU_SSL_CLIENT));
  EXPECT_TRUE(ChainVerifies(*signed_pem, ca->certificate_pem(), X509_PURPOSE_SSL_CLIENT));
  EXPECT_FALSE(ChainVerifies(*signed_pem, ca->certificate_pem(), X509_PURPOSE_SSL_SERVER));
}

TEST(CertificateAuthority, RefusesCsrThatIsGarbageOrTampered) {
  TempDir temp;
  auto ca = CertificateAuthority::LoadOrCreate(temp.path());
  ASSERT_TRUE(ca);
  auto garbage = ca->SignClientCsr("not a csr", "host-1", 90);
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().message().find("PEM_read_bio_X509_REQ"), std::string::npos);

  // Swap the public key of one CSR into another: the signature no longer matches.
  auto one = MakeCsr("one");
  auto two = MakeCsr("two");
  ASSERT_TRUE(one && two);
  auto parse = [](const std::string& pem) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    return X509ReqPtr(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  };
  auto req_one = parse(one->csr_pem);
  auto req_two = parse(two->csr_pem);
  ASSERT_TRUE(req_one && req_two);
  ASSERT_EQ(X509_REQ_set_pubkey(req_one.get(), X509_REQ_get0_pubkey(req_two.get())), 1);
  BioPtr out(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_X509_REQ(out.get(), req_one.get()), 1);
  char* data = nullptr;
  long size = BIO_get_mem_data(out.get(), &data);
  auto tampered = ca->SignClientCsr(std::string(data, static_cast<size_t>(size)), "host-1", 90);
  ASSERT_FALSE(tampered);
  EXPECT_NE(tampered.error().message().find("bad CSR signature"), std::string::npos)
      << tampered.error().message();
}

TEST(CertificateAuthority, SerialsAreRandomAndPositive) {
  TempDir temp;
  auto ca = CertificateAuthority::LoadOrCreate(temp.path());
  ASSERT_TRUE(ca);
  auto a = ca->IssueServerCertificate({"a.example"}, 1);
  auto b = ca->IssueServerCertificate({"a.example"}, 1);
  ASSERT_TRUE(a && b);
  auto cert_a = ParseCertificatePem(a->cert_pem);
  auto cert_b = ParseCertificatePem(b->cert_pem);
  const ASN1_INTEGER* serial_a = X509_get0_serialNumber(cert_a->get());
  const ASN1_INTEGER* serial_b = X509_get0_serialNumber(cert_b->get());
  EXPECT_NE(ASN1_INTEGER_cmp(serial_a, serial_b), 0);
  EXPECT_EQ(ASN1_STRING_length(serial_a), 16);
  EXPECT_EQ(ASN1_STRING_type(serial_a), V_ASN1_INTEGER);  // not V_ASN1_NEG_INTEGER
}

TEST(CertificateAuthority, FingerprintIsColonHexSha256) {
  TempDir temp;
  auto ca = CertificateAuthority::LoadOrCreate(temp.path());
  ASSERT_TRUE(ca);
  const std::string& fingerprint = ca->fingerprint();
  ASSERT_EQ(fingerprint.size(), 32u * 3 - 1);
  for (size_t i = 0; i < fingerprint.size(); ++i) {
    if (i % 3 == 2) {
      EXPECT_EQ(fingerprint[i], ':');
    } else {
      EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(fingerprint[i])) &&
                  !std::islower(static_cast<unsigned char>(fingerprint[i])));
    }
  }
  auto again = CertificateFingerprintPem(ca->certificate_pem());
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, fingerprint);
  EXPECT_FALSE(CertificateFingerprintPem("garbage"));
}

TEST(MakeCsr, RefusesEmptyName) { EXPECT_FALSE(MakeCsr("")); }

}  // namespace
}  // namespace moat::tls
