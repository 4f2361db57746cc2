#include "broker/bootstrap.h"

#include <sys/stat.h>
#include <unistd.h>

#include "auth/crypto.h"
#include "db/host_store.h"
#include "db/user_store.h"
#include "moat/common/files.h"
#include "moat/common/tls/openssl.h"

namespace moat::broker {

std::string LocalHostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

Status PrepareStateDir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Fail(Error(ec, "create state directory '" + dir.string() + "'"));
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return Fail(ErrnoError("stat", dir.string()));
  if (st.st_uid != ::geteuid()) {
    return Fail(InvalidArgument("state directory '" + dir.string() +
                                "' belongs to another user; it holds the CA key"));
  }
  if (::chmod(dir.c_str(), 0700) != 0) return Fail(ErrnoError("chmod 0700", dir.string()));
  return {};
}

Result<tls::KeyAndCertificate> ServerCertificate(const BrokerConfig& config,
                                                 const tls::CertificateAuthority& ca) {
  if (config.tls_cert) {
    MOAT_TRY(std::string cert, ReadWholeFile(*config.tls_cert));
    MOAT_TRY(std::string key, ReadWholeFile(*config.tls_key));
    return tls::KeyAndCertificate{std::move(key), std::move(cert)};
  }
  std::vector<std::string> names = config.tls_names;
  if (names.empty()) names = {LocalHostName(), "localhost", "127.0.0.1", "::1"};
  std::string names_line;
  for (const auto& name : names) names_line += name + "\n";
  std::filesystem::path dir = config.state_dir / "tls";
  std::filesystem::create_directories(dir);
  ::chmod(dir.c_str(), 0700);
  auto key = ReadWholeFile(dir / "server.key");
  auto cert = ReadWholeFile(dir / "server.crt");
  auto issued_for = ReadWholeFile(dir / "server.names");
  if (key && cert && issued_for && *issued_for == names_line) {
    return tls::KeyAndCertificate{std::move(*key), std::move(*cert)};
  }
  MOAT_TRY(tls::KeyAndCertificate fresh, ca.IssueServerCertificate(names, 825));
  MOAT_TRY_VOID(WriteFileAtomic(dir / "server.key", fresh.key_pem, 0600));
  MOAT_TRY_VOID(WriteFileAtomic(dir / "server.crt", fresh.cert_pem, 0644));
  MOAT_TRY_VOID(WriteFileAtomic(dir / "server.names", names_line, 0644));
  return fresh;
}

Result<std::optional<std::string>> EnsureAdmin(const db::Database& db, const BrokerConfig& config) {
  MOAT_TRY(std::int64_t admins,
           db.QueryInt("SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0"));
  if (admins > 0) return std::optional<std::string>();
  MOAT_TRY(std::string random, auth::RandomBytes(18));
  std::string password = auth::Base64UrlEncode(random);
  db::UserStore users(db);
  if (auto existing = users.Get(config.admin_user)) {
    MOAT_TRY_VOID(users.SetPassword(config.admin_user, password, db::Actor::System()));
    MOAT_TRY_VOID(users.SetRole(config.admin_user, db::Role::kAdmin, db::Actor::System()));
    MOAT_TRY_VOID(users.SetDisabled(config.admin_user, false, db::Actor::System()));
  } else {
    MOAT_TRY_VOID(users.Add({.name = config.admin_user,
                             .display_name = "Moat administrator",
                             .password = password,
                             .source = "local",
                             .role = db::Role::kAdmin},
                            db::Actor::System()));
  }
  MOAT_TRY_VOID(WriteFileAtomic(config.state_dir / "admin-password", password + "\n", 0600));
  return std::optional<std::string>(password);
}

Result<std::filesystem::path> PrepareLocalHost(const db::Database& db, const BrokerConfig& config,
                                               const tls::CertificateAuthority& ca,
                                               const std::string& host_name) {
  db::HostStore hosts(db);
  if (!hosts.Get(host_name)) {
    MOAT_TRY_VOID(
        hosts.Add({.name = host_name, .address = "127.0.0.1", .capacity = config.local_capacity},
                  db::Actor::System()));
  }
  MOAT_TRY(tls::KeyAndCsr request, tls::MakeCsr(host_name));
  MOAT_TRY(std::string cert, ca.SignClientCsr(request.csr_pem, host_name, 825));
  MOAT_TRY(std::string fingerprint, tls::CertificateFingerprintPem(cert));
  std::filesystem::path dir = config.state_dir / "local-agent";
  std::filesystem::create_directories(dir);
  ::chmod(dir.c_str(), 0700);
  MOAT_TRY_VOID(WriteFileAtomic(dir / "agent.key", request.key_pem, 0600));
  MOAT_TRY_VOID(WriteFileAtomic(dir / "agent.crt", cert, 0644));
  MOAT_TRY_VOID(WriteFileAtomic(dir / "ca.crt", ca.certificate_pem(), 0644));
  MOAT_TRY_VOID(hosts.SetCertificate(host_name, fingerprint, db::Actor::System()));
  return dir;
}

}  // namespace moat::broker
