// Real handshakes between two threads over a socketpair: no mocks of TLS.
#include "moat/common/tls/context.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstdlib>
#include <thread>

#include "moat/common/testing/temp_dir.h"
#include "moat/common/tls/ca.h"
#include "moat/common/unique_fd.h"

namespace moat::tls {
namespace {

using TempDir = ::moat::testing::TempDir;

struct Outcome {
  bool server_ok = false;
  bool client_ok = false;
  std::string server_error;
  std::string client_error;
  std::string client_verify;  // the client's view of the server certificate
  std::string client_name;    // the CN of the client certificate, as the server saw it
};

void SetTimeout(int fd) {
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// The server accepts and sends "ok"; the client connects and reads it. With TLS 1.3 the client
// finishes its handshake before the server has judged the client certificate, so a client only
// counts as connected once it has read application data.
Outcome Handshake(SSL_CTX* server_ctx, SSL_CTX* client_ctx) {
  (void)::signal(SIGPIPE, SIG_IGN);
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
  UniqueFd server_fd(fds[0]), client_fd(fds[1]);
  SetTimeout(server_fd.get());
  SetTimeout(client_fd.get());
  Outcome outcome;
  std::thread server([&] {
    SslPtr ssl(SSL_new(server_ctx));
    SSL_set_fd(ssl.get(), server_fd.get());
    if (SSL_accept(ssl.get()) == 1 && SSL_write(ssl.get(), "ok", 2) == 2) {
      outcome.server_ok = true;
      outcome.client_name = PeerCommonName(ssl.get());
      SSL_shutdown(ssl.get());
    } else {
      outcome.server_error = OpenSslError("SSL_accept").message();
    }
    ::shutdown(server_fd.get(), SHUT_RDWR);
  });
  SslPtr ssl(SSL_new(client_ctx));
  SSL_set_fd(ssl.get(), client_fd.get());
  char buffer[2] = {};
  if (SSL_connect(ssl.get()) == 1 && SSL_read(ssl.get(), buffer, 2) == 2 &&
      std::string(buffer, 2) == "ok") {
    outcome.client_ok = true;
  } else {
    outcome.client_error = OpenSslError("SSL_connect").message();
  }
  outcome.client_verify = PeerVerifyResult(ssl.get());
  ::shutdown(client_fd.get(), SHUT_RDWR);
  server.join();
  return outcome;
}

class TlsContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = CertificateAuthority::LoadOrCreate(ca_dir_.path(), "Moat Test CA");
    ASSERT_TRUE(ca) << ca.error().message();
    ca_.emplace(std::move(*ca));
    auto other = CertificateAuthority::LoadOrCreate(other_dir_.path(), "Someone Else's CA");
    ASSERT_TRUE(other) << other.error().message();
    other_.emplace(std::move(*other));
    auto server = ca_->IssueServerCertificate({"broker.test", "127.0.0.1"}, 1);
    ASSERT_TRUE(server) << server.error().message();
    server_ = *server;
    auto client = ClientCert(*ca_, "agent-1");
    ASSERT_TRUE(client);
    client_ = *client;
  }

  static std::optional<KeyAndCertificate> ClientCert(const CertificateAuthority& ca,
                                                     const std::string& name) {
    auto csr = MakeCsr(name);
    if (!csr) return std::nullopt;
    auto cert = ca.SignClientCsr(csr->csr_pem, name, 1);
    if (!cert) return std::nullopt;
    return KeyAndCertificate{csr->key_pem, *cert};
  }

  SslCtxPtr Server(bool require_client_cert = true) {
    auto ctx = MakeServerContext(
        {server_.cert_pem, server_.key_pem, ca_->certificate_pem(), require_client_cert});
    EXPECT_TRUE(ctx) << ctx.error().message();
    return std::move(*ctx);
  }

  SslCtxPtr Client(const std::optional<KeyAndCertificate>& cert, std::string host = "broker.test",
                   const std::string* ca_pem = nullptr) {
    ClientContextOptions options;
    options.ca_pem = ca_pem ? *ca_pem : ca_->certificate_pem();
    if (cert) {
      options.client_cert_pem = cert->cert_pem;
      options.client_key_pem = cert->key_pem;
    }
    options.verify_hostname = std::move(host);
    auto ctx = MakeClientContext(options);
    EXPECT_TRUE(ctx) << ctx.error().message();
    return std::move(*ctx);
  }

  TempDir ca_dir_, other_dir_;
  std::optional<CertificateAuthority> ca_, other_;
  KeyAndCertificate server_, client_;
};

TEST_F(TlsContextTest, MutualTlsSucceedsWithCaIssuedClientCert) {
  auto server = Server();
  auto client = Client(client_);
  Outcome outcome = Handshake(server.get(), client.get());
  EXPECT_TRUE(outcome.server_ok) << outcome.server_error;
  EXPECT_TRUE(outcome.client_ok) << outcome.client_error;
  EXPECT_EQ(outcome.client_verify, "ok");
  EXPECT_EQ(outcome.client_name, "agent-1");
}

TEST_F(TlsContextTest, MutualTlsSucceedsWithIpAddressAsName) {
  auto server = Server();
  auto client = Client(client_, "127.0.0.1");
  Outcome outcome = Handshake(server.get(), client.get());
  EXPECT_TRUE(outcome.server_ok) << outcome.server_error;
  EXPECT_TRUE(outcome.client_ok) << outcome.client_error;
}

TEST_F(TlsContextTest, ClientCertFromAnotherCaIsRejected) {
  auto foreign = ClientCert(*other_, "agent-1");
  ASSERT_TRUE(foreign);
  auto server = Server();
  auto client = Client(foreign);
  Outcome outcome = Handshake(server.get(), client.get());
  EXPECT_FALSE(outcome.server_ok);
  EXPECT_FALSE(outcome.client_ok);
  EXPECT_NE(outcome.server_error.find("certificate verify failed"), std::string::npos)
      << outcome.server_error;
}

TEST_F(TlsContextTest, MissingClientCertIsRejectedWhenRequired) {
  auto server = Server();
  auto client = Client(std::nullopt);
  Outcome outcome = Handshake(server.get(), client.get());
  EXPECT_FALSE(outcome.server_ok);
  EXPECT_FALSE(outcome.client_ok);
  EXPECT_NE(outcome.server_error.find("peer did not return a certificate"), std::string::npos)
      << outcome.server_error;
}

TEST_F(TlsContextTest, MissingClientCertIsAcceptedWhenOptional) {
  auto server = Server(/*require_client_cert=*/false);
  auto client = Client(std::nullopt);
  Outcome outcome = Handshake(server.get(), client.get());
  EXPECT_TRUE(outcome.server_ok) << outcome.server_error;
  EXPECT_TRUE(outcome.client_ok) << outcome.client_error;
}

TEST_F(TlsContextTest, ServerCertUsedAsClientCertIsRejected) {
  auto server = Server();
  auto client = Client(server_);  // valid chain, but issued for serverAuth only
  Outcome outcome = Handshake(server.get(), client.get());
  EXPECT_FALSE(outcome.server_ok);
  EXPECT_FALSE(outcome.client_ok);
}

TEST_F(TlsContextTest, UntrustedServerCertIsRejectedByClient) {
  auto server = Server();
  std::string other_ca = other_->certificate_pem();
  auto client = Client(client_, "broker.test", &other_ca);
  Outcome outcome = Handshake(server.get(), client.get());
  EXPECT_FALSE(outcome.client_ok);
  EXPECT_FALSE(outcome.server_ok);
  EXPECT_NE(outcome.client_error.find("certificate verify failed"), std::string::npos)
      << outcome.client_error;
  EXPECT_EQ(outcome.client_verify, "unable to get local issuer certificate");
}

TEST_F(TlsContextTest, ServerCertForAnotherNameIsRejectedByClient) {
  auto server = Server();
  auto client = Client(client_, "evil.test");
  Outcome outcome = Handshake(server.get(), client.get());
  EXPECT_FALSE(outcome.client_ok);
  EXPECT_EQ(outcome.client_verify, "hostname mismatch");
}

TEST_F(TlsContextTest, Tls11IsRefused) {
  auto server = Server();
  SslCtxPtr client(SSL_CTX_new(TLS_client_method()));
  ASSERT_TRUE(client);
  // Security level 0 so that this client really offers TLS 1.1: the refusal must be the
  // server's, not the client's own OpenSSL defaults.
  ASSERT_EQ(SSL_CTX_set_cipher_list(client.get(), "DEFAULT:@SECLEVEL=0"), 1);
  ASSERT_EQ(SSL_CTX_set_min_proto_version(client.get(), TLS1_1_VERSION), 1);
  ASSERT_EQ(SSL_CTX_set_max_proto_version(client.get(), TLS1_1_VERSION), 1);
  Outcome outcome = Handshake(server.get(), client.get());
  EXPECT_FALSE(outcome.server_ok);
  EXPECT_FALSE(outcome.client_ok);
  EXPECT_NE(outcome.server_error.find("unsupported protocol"), std::string::npos)
      << outcome.server_error;
}

TEST_F(TlsContextTest, ContextsSayTls12AtLeastWithoutCompressionOrRenegotiation) {
  auto server = Server();
  auto client = Client(client_);
  for (SSL_CTX* ctx : {server.get(), client.get()}) {
    EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
    EXPECT_NE(SSL_CTX_get_options(ctx) & SSL_OP_NO_COMPRESSION, 0u);
    EXPECT_NE(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION, 0u);
  }
}

TEST_F(TlsContextTest, BadOptionsAreClearErrors) {
  auto no_ca = MakeServerContext({server_.cert_pem, server_.key_pem, std::nullopt, true});
  ASSERT_FALSE(no_ca);
  EXPECT_NE(no_ca.error().message().find("needs the CA"), std::string::npos);

  auto wrong_key = MakeServerContext({server_.cert_pem, client_.key_pem, std::nullopt, false});
  ASSERT_FALSE(wrong_key);
  EXPECT_NE(wrong_key.error().message().find("SSL_CTX_use_PrivateKey"), std::string::npos)
      << wrong_key.error().message();

  ClientContextOptions half;
  half.ca_pem = ca_->certificate_pem();
  half.client_cert_pem = client_.cert_pem;
  auto half_ctx = MakeClientContext(half);
  ASSERT_FALSE(half_ctx);
  EXPECT_NE(half_ctx.error().message().find("both"), std::string::npos);

  ClientContextOptions bad_ca;
  bad_ca.ca_pem = "nothing here";
  auto bad_ca_ctx = MakeClientContext(bad_ca);
  ASSERT_FALSE(bad_ca_ctx);
  EXPECT_NE(bad_ca_ctx.error().message().find("no certificate"), std::string::npos)
      << bad_ca_ctx.error().message();
}

}  // namespace
}  // namespace moat::tls
